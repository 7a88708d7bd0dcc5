// The OpenAI wire format: requests parsed and checked into an engine Job,
// responses and stream chunks built from the Job's events. Knows nothing of
// sockets or of the model beyond ModelInfo, so tests run it without weights.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/status.h"
#include "engine/sampler.h"
#include "engine/scheduler.h"

namespace dsv3::server {

// An OpenAI-style error: {"error": {message, type, param, code}}.
struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // empty: null
  std::string code;   // empty: null
};
nlohmann::json error_body(const ApiError& e);
ApiError invalid(std::string param, std::string message, std::string code = {});

enum class Endpoint { kChat, kCompletion };

// What the parser needs from the served model.
struct ModelInfo {
  std::string id;  // the name clients pass as "model"
  int64_t vocab_size = 0;
  int64_t context = 4096;  // prompt + completion tokens per sequence
  int32_t bos_id = -1;     // prepended to text prompts of /v1/completions
  std::vector<int32_t> eos_ids;
  SamplingParams defaults;  // for fields the request leaves out
  // Renders messages through the chat template (generation prompt added); null: no template.
  std::function<Result<std::string>(const nlohmann::ordered_json& messages)> render_chat;
  std::function<std::vector<int32_t>(std::string_view)> encode;
  std::function<std::string(int32_t)> token_text;  // raw bytes of one token
};

struct ParsedRequest {
  Endpoint endpoint = Endpoint::kChat;
  Job job;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  bool logprobs = false;       // return logprobs (job.top_logprobs >= 0)
};

using ParseResult = std::variant<ParsedRequest, ApiError>;
ParseResult parse_request(Endpoint endpoint, std::string_view body, const ModelInfo& model);
ParseResult parse_request_json(Endpoint endpoint, const nlohmann::json& body, const ModelInfo& model);

// Serializes for the wire: one line, invalid UTF-8 replaced rather than thrown on.
std::string dump(const nlohmann::json& j);

std::string_view finish_name(FinishReason r);

// Builds the responses of one request.
class ResponseBuilder {
 public:
  ResponseBuilder(Endpoint endpoint, std::string model_id, const ModelInfo& model);

  const std::string& id() const { return id_; }
  // Whole response (stream off).
  nlohmann::json full(std::string_view text, FinishReason finish, const JobUsage& usage,
                      std::span<const TokenLogprob> logprobs, bool want_logprobs) const;
  // The first chat chunk (role only); completions have none.
  nlohmann::json role_chunk() const;
  // A chunk with text and/or a finish reason.
  nlohmann::json chunk(std::string_view text, std::span<const TokenLogprob> logprobs, bool want_logprobs,
                       const FinishReason* finish);
  nlohmann::json usage_chunk(const JobUsage& usage) const;
  static nlohmann::json usage(const JobUsage& u);

 private:
  nlohmann::json logprobs_json(std::span<const TokenLogprob> lp, int64_t* text_offset) const;
  nlohmann::json base(const char* object) const;

  Endpoint endpoint_;
  std::string model_id_, id_;
  int64_t created_;
  const ModelInfo& model_;
  int64_t text_offset_ = 0;  // completions' logprobs.text_offset
};

}  // namespace dsv3::server
