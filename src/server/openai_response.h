// OpenAI responses: the whole answer, stream chunks and usage, built from a
// Job's events. Knows nothing of sockets: the same objects go out as a JSON
// body, SSE events or WebSocket messages.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/scheduler.h"
#include "server/openai_request.h"

namespace dsv3::server {

std::string_view finish_name(FinishReason r);

// One choice of a whole response: a sample's text as it ended.
struct ChoiceResult {
  std::string text;
  FinishReason finish = FinishReason::kLength;
  std::vector<TokenLogprob> logprobs;
};

// Builds the responses of one request, of `n` choices (the job's samples).
class ResponseBuilder {
 public:
  // output: how the chat answer's text splits into reasoning, content and tool calls.
  ResponseBuilder(Endpoint endpoint, std::string model_id, const ModelInfo& model, text::OutputFormat output = {},
                  int32_t n = 1);

  const std::string& id() const { return id_; }
  // Whole response (stream off): choice i is choices[i]; usage over all.
  nlohmann::json full(std::span<const ChoiceResult> choices, const JobUsage& usage, bool want_logprobs) const;
  // The same, of one choice.
  nlohmann::json full(std::string_view text, FinishReason finish, const JobUsage& usage,
                      std::span<const TokenLogprob> logprobs, bool want_logprobs) const;
  // The first chat chunk of a choice (role only); completions have none.
  nlohmann::json role_chunk(int32_t index = 0) const;
  // A chunk of choice `index` with text and/or a finish reason. Chat text
  // goes through that choice's output parser: a chunk may carry reasoning,
  // content or tool-call deltas, and the finishing chunk what the parser held back.
  nlohmann::json chunk(std::string_view text, std::span<const TokenLogprob> logprobs, bool want_logprobs,
                       const FinishReason* finish, int32_t index = 0);
  nlohmann::json usage_chunk(const JobUsage& usage) const;
  // A chunk that says nothing (the parser held its text back): not sent.
  static bool says_nothing(const nlohmann::json& chunk);
  static nlohmann::json usage(const JobUsage& u);

 private:
  // What streaming keeps per choice: each is parsed on its own.
  struct ChoiceStream {
    explicit ChoiceStream(text::OutputFormat output) : parser(output) {}
    int64_t text_offset = 0;  // completions' logprobs.text_offset
    text::AssistantOutputParser parser;
    std::vector<std::string> call_ids;  // per tool call index
  };

  nlohmann::json logprobs_json(std::span<const TokenLogprob> lp, int64_t* text_offset) const;
  nlohmann::json base(const char* object) const;
  nlohmann::json choice_json(int32_t index, const ChoiceResult& c, bool want_logprobs) const;
  static nlohmann::json delta_json(const text::OutputDelta& d, ChoiceStream& cs);
  std::string_view chat_finish(FinishReason r, bool called) const;

  Endpoint endpoint_;
  std::string model_id_, id_;
  int64_t created_;
  const ModelInfo& model_;
  text::OutputFormat output_;
  std::vector<ChoiceStream> streams_;  // streaming, one per choice
};

}  // namespace dsv3::server
