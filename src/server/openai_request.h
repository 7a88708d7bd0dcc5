// OpenAI requests (chat and text completions) parsed and checked into an
// engine Job. Knows nothing of sockets or of the model beyond ModelInfo, so
// tests run it without weights.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <memory>

#include "base/status.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"
#include "server/api_error.h"
#include "server/json_depth.h"
#include "text/assistant_output.h"

namespace dsv3::grammar {
class TokenVocabulary;
}

namespace dsv3::server {

enum class Endpoint { kChat, kCompletion };

// What the parser needs from the served model.
struct ModelInfo {
  std::string id;  // the name responses carry as "model"
  bool strict_model_name = false;  // a request naming another model gets 404; off: any name is taken
  int64_t vocab_size = 0;
  int64_t context = 4096;  // prompt + completion tokens per sequence
  int32_t bos_id = -1;     // prepended to text prompts of /v1/completions
  std::vector<int32_t> eos_ids;
  SamplingParams defaults;  // for fields the request leaves out
  // Renders messages through the chat template (generation prompt added),
  // with the request's tools (null: none) and template variables (an object
  // or null); null: no template.
  std::function<Result<std::string>(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                                    const nlohmann::ordered_json& kwargs)>
      render_chat;
  bool template_renders_tools = false;  // else the tools are described in a system message
  text::ToolCallFormat tool_format = text::ToolCallFormat::kNone;  // how the model writes tool calls
  enum class Reasoning { kAuto, kOn, kOff } reasoning = Reasoning::kAuto;  // auto: when the template knows <think>
  bool template_thinks = false;           // the template mentions <think> (R1, V3.1)
  nlohmann::json default_template_kwargs;  // --chat-template-kwargs: under the request's own
  // The vocabulary as constrained decoding walks it; null: response_format and strict tools are refused.
  std::shared_ptr<const grammar::TokenVocabulary> vocabulary;
  std::function<std::vector<int32_t>(std::string_view)> encode;
  std::function<std::string(int32_t)> token_text;  // raw bytes of one token
};

struct ParsedRequest {
  Endpoint endpoint = Endpoint::kChat;
  Job job;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // return logprobs (job.top_logprobs >= 0)
  text::OutputFormat output;   // how to tell reasoning, answer and tool calls apart in the text
};

using ParseResult = std::variant<ParsedRequest, ApiError>;
// max_json_depth: deeper bodies are refused before they are parsed (json_depth.h).
ParseResult parse_request(Endpoint endpoint, std::string_view body, const ModelInfo& model, int max_json_depth = kDefaultMaxJsonDepth);
ParseResult parse_request_json(Endpoint endpoint, const nlohmann::json& body, const ModelInfo& model);

}  // namespace dsv3::server
