#include "server/anthropic_response.h"

#include <optional>

#include "server/random_id.h"

namespace dsv3::server {

using nlohmann::json;

std::string_view anthropic_stop_reason(const JobEvent& last, bool tool_use) {
  if (last.finish == FinishReason::kLength) return "max_tokens";
  if (!last.stop_string.empty()) return "stop_sequence";
  return tool_use ? "tool_use" : "end_turn";
}

namespace {

json stop_sequence(const JobEvent& last) {
  return last.stop_string.empty() ? json(nullptr) : json(last.stop_string);
}

// A call's arguments as the tool_use block's input: an object, or nullopt
// when they are not one (the model wrote broken JSON).
std::optional<json> input_of(const std::string& arguments) {
  if (arguments.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();  // no arguments
  json j = json::parse(arguments, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

}  // namespace

json anthropic_message(std::string_view model_id, std::string_view text, text::OutputFormat format,
                       const JobEvent& last) {
  const text::AssistantOutput out = text::parse_assistant_output(text, format);
  json content = json::array();
  if (!out.reasoning.empty()) content.push_back({{"type", "thinking"}, {"thinking", out.reasoning}, {"signature", ""}});
  if (!out.content.empty()) content.push_back({{"type", "text"}, {"text", out.content}});
  for (const text::ToolCall& c : out.tool_calls) {
    std::optional<json> input = input_of(c.arguments);
    content.push_back({{"type", "tool_use"}, {"id", random_id("toolu_")}, {"name", c.name}, {"input", input.value_or(json::object())}});
    // broken arguments are not lost: the client sees what the model wrote
    if (!input) content.push_back({{"type", "text"}, {"text", c.arguments}});
  }
  return {{"id", random_id("msg_")},
          {"type", "message"},
          {"role", "assistant"},
          {"model", model_id},
          {"content", std::move(content)},
          {"stop_reason", anthropic_stop_reason(last, !out.tool_calls.empty())},
          {"stop_sequence", stop_sequence(last)},
          {"usage", {{"input_tokens", last.usage.prompt_tokens}, {"output_tokens", last.usage.completion_tokens}}}};
}

AnthropicStream::AnthropicStream(std::string model_id, text::OutputFormat format, int64_t input_tokens)
    : model_id_(std::move(model_id)), id_(random_id("msg_")), parser_(format), input_tokens_(input_tokens) {}

std::vector<AnthropicStream::Event> AnthropicStream::start() const {
  json message = {{"id", id_},
                  {"type", "message"},
                  {"role", "assistant"},
                  {"model", model_id_},
                  {"content", json::array()},
                  {"stop_reason", nullptr},
                  {"stop_sequence", nullptr},
                  {"usage", {{"input_tokens", input_tokens_}, {"output_tokens", 0}}}};
  // a ping early tells proxies and clients the stream is alive while the prompt is read
  return {{"message_start", {{"type", "message_start"}, {"message", std::move(message)}}},
          {"ping", {{"type", "ping"}}}};
}

std::vector<AnthropicStream::Event> AnthropicStream::delta(std::string_view text) {
  std::vector<Event> out;
  apply(parser_.feed(text), out);
  return out;
}

std::vector<AnthropicStream::Event> AnthropicStream::finish(const JobEvent& last) {
  std::vector<Event> out;
  apply(parser_.finish(), out);
  close(out);
  out.push_back({"message_delta",
                 {{"type", "message_delta"},
                  {"delta", {{"stop_reason", anthropic_stop_reason(last, tool_use_)}, {"stop_sequence", stop_sequence(last)}}},
                  {"usage", {{"output_tokens", last.usage.completion_tokens}}}}});
  out.push_back({"message_stop", {{"type", "message_stop"}}});
  return out;
}

void AnthropicStream::apply(const text::OutputDelta& d, std::vector<Event>& out) {
  if (!d.reasoning.empty()) {
    open(Block::kThinking, {{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}, out);
    add({{"type", "thinking_delta"}, {"thinking", d.reasoning}}, out);
  }
  if (!d.content.empty()) {
    open(Block::kText, {{"type", "text"}, {"text", ""}}, out);
    add({{"type", "text_delta"}, {"text", d.content}}, out);
  }
  for (const text::ToolCallDelta& c : d.tool_calls) {
    if (open_ != Block::kToolUse || c.index != tool_call_) {
      // each call its own block, even two in a row
      open(Block::kToolUse, {{"type", "tool_use"}, {"id", random_id("toolu_")}, {"name", c.name}, {"input", json::object()}},
           out);
      tool_call_ = c.index;
      tool_use_ = true;
    }
    if (!c.arguments.empty()) add({{"type", "input_json_delta"}, {"partial_json", c.arguments}}, out);
  }
}

void AnthropicStream::open(Block kind, json content_block, std::vector<Event>& out) {
  if (open_ == kind && kind != Block::kToolUse) return;
  close(out);
  open_ = kind;
  ++index_;
  out.push_back({"content_block_start",
                 {{"type", "content_block_start"}, {"index", index_}, {"content_block", std::move(content_block)}}});
}

void AnthropicStream::add(json delta, std::vector<Event>& out) const {
  out.push_back({"content_block_delta", {{"type", "content_block_delta"}, {"index", index_}, {"delta", std::move(delta)}}});
}

void AnthropicStream::close(std::vector<Event>& out) {
  if (open_ == Block::kNone) return;
  out.push_back({"content_block_stop", {{"type", "content_block_stop"}, {"index", index_}}});
  open_ = Block::kNone;
}

}  // namespace dsv3::server
