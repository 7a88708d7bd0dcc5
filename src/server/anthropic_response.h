// Anthropic Messages API responses built from a job's events: the whole
// message (stream off) and the named stream events (message_start,
// content_block_start/delta/stop, message_delta, message_stop). The text is
// split into thinking, text and tool_use blocks by text::AssistantOutputParser.
// Knows nothing of sockets.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/job.h"
#include "text/assistant_output.h"

namespace dsv3::server {

// end_turn, max_tokens, stop_sequence or tool_use: why the job ended, in Anthropic's words.
std::string_view anthropic_stop_reason(const JobEvent& last, bool tool_use);

// The whole message for a job's text and its last event.
nlohmann::json anthropic_message(std::string_view model_id, std::string_view text, text::OutputFormat format,
                                 const JobEvent& last);

// The events of one streamed message, in order.
class AnthropicStream {
 public:
  struct Event {
    std::string name;  // the SSE event's name, also the payload's "type"
    nlohmann::json data;
  };

  AnthropicStream(std::string model_id, text::OutputFormat format, int64_t input_tokens);
  const std::string& id() const { return id_; }

  std::vector<Event> start() const;                 // message_start, ping
  std::vector<Event> delta(std::string_view text);  // the blocks the text opens and adds to
  std::vector<Event> finish(const JobEvent& last);  // the rest, message_delta, message_stop

 private:
  enum class Block { kNone, kThinking, kText, kToolUse };
  void apply(const text::OutputDelta& d, std::vector<Event>& out);
  // Closes the open block unless it is `kind` and continues; opens one of `kind` then.
  void open(Block kind, nlohmann::json content_block, std::vector<Event>& out);
  void add(nlohmann::json delta, std::vector<Event>& out) const;
  void close(std::vector<Event>& out);

  std::string model_id_, id_;
  text::AssistantOutputParser parser_;
  int64_t input_tokens_;
  Block open_ = Block::kNone;
  int index_ = -1;       // the open (or last) block's index
  int tool_call_ = -1;   // the parser's index of the call the open tool_use block holds
  bool tool_use_ = false;  // a tool call began
};

}  // namespace dsv3::server
