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

// Builds the responses of one request.
class ResponseBuilder {
 public:
  // output: how the chat answer's text splits into reasoning, content and tool calls.
  ResponseBuilder(Endpoint endpoint, std::string model_id, const ModelInfo& model, text::OutputFormat output = {});

  const std::string& id() const { return id_; }
  // Whole response (stream off).
  nlohmann::json full(std::string_view text, FinishReason finish, const JobUsage& usage,
                      std::span<const TokenLogprob> logprobs, bool want_logprobs) const;
  // The first chat chunk (role only); completions have none.
  nlohmann::json role_chunk() const;
  // A chunk with text and/or a finish reason. Chat text goes through the
  // output parser: a chunk may carry reasoning, content or tool-call deltas,
  // and the finishing chunk what the parser held back.
  nlohmann::json chunk(std::string_view text, std::span<const TokenLogprob> logprobs, bool want_logprobs,
                       const FinishReason* finish);
  nlohmann::json usage_chunk(const JobUsage& usage) const;
  // A chunk that says nothing (the parser held its text back): not sent.
  static bool says_nothing(const nlohmann::json& chunk);
  static nlohmann::json usage(const JobUsage& u);

 private:
  nlohmann::json logprobs_json(std::span<const TokenLogprob> lp, int64_t* text_offset) const;
  nlohmann::json base(const char* object) const;
  nlohmann::json delta_json(const text::OutputDelta& d);
  std::string_view chat_finish(FinishReason r, bool called) const;

  Endpoint endpoint_;
  std::string model_id_, id_;
  int64_t created_;
  const ModelInfo& model_;
  int64_t text_offset_ = 0;  // completions' logprobs.text_offset
  text::OutputFormat output_;
  text::AssistantOutputParser parser_;    // streaming chat
  std::vector<std::string> call_ids_;     // per tool call index
};

}  // namespace dsv3::server
