// What an assistant's generated text holds, told apart as it streams:
// reasoning (R1 / V3.1 "<think> ... </think>"), the answer, and tool calls in
// DeepSeek's markers. Knows nothing of HTTP: the OpenAI and Anthropic writers
// both turn its deltas into their own events.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dsv3::text {

// How a model writes tool calls (the bars are U+FF5C, the separators U+2581).
enum class ToolCallFormat {
  kNone,
  // V3 / R1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\nARGS\n```<｜tool▁call▁end｜>
  //          (more calls joined by "\n") <｜tool▁calls▁end｜>
  kDeepSeekV3,
  // V3.1: <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>ARGS<｜tool▁call▁end｜>...<｜tool▁calls▁end｜>
  kDeepSeekV31,
};

struct OutputFormat {
  ToolCallFormat tools = ToolCallFormat::kNone;
  bool reasoning = false;            // split "<think> ... </think>" off as reasoning
  bool starts_in_reasoning = false;  // the prompt ends inside "<think>": all before "</think>" is reasoning
};

// A part of one tool call. The first delta of a call has its name; later ones
// add to its arguments. index counts calls from 0 in the order they began.
struct ToolCallDelta {
  int index = 0;
  std::string name;       // set on the call's first delta only
  std::string arguments;  // the next piece of the arguments' JSON text
};

struct OutputDelta {
  std::string reasoning, content;
  std::vector<ToolCallDelta> tool_calls;
  bool empty() const { return reasoning.empty() && content.empty() && tool_calls.empty(); }
};

struct AssistantOutput;

// Streams: feed() each piece of final text as it comes; it returns what can
// be told apart so far and holds back what may be the start of a marker.
// finish() returns the rest. Concatenating every delta gives parse()'s
// answer, except that a tool call left unterminated is content in parse()
// while a stream may already have sent its first deltas (finish() then sends
// the call's text not yet sent as arguments as content). Deltas hold whole
// UTF-8 characters when the text is valid UTF-8. Reasoning left open at the
// end is reasoning; the whitespace right after "</think>" is dropped; a
// malformed call (no separator, empty name, a marker inside its head) is
// content. Arguments are not checked to be JSON.
class AssistantOutputParser {
 public:
  explicit AssistantOutputParser(OutputFormat format);
  OutputDelta feed(std::string_view text);
  OutputDelta finish();
  int complete_tool_calls() const;  // calls closed by their end marker so far

 private:
  enum class State { kThinkStart, kReasoning, kAfterThink, kContent, kBetweenCalls, kCallHead, kFenceOpen, kArguments };
  friend AssistantOutput parse_assistant_output(std::string_view text, OutputFormat format);

  // One decision on pending_; false when it needs more text (or, at the end, has nothing left).
  bool step(OutputDelta& out, bool at_end);
  bool step_call_head(OutputDelta& out, bool at_end);
  void run(OutputDelta& out, bool at_end);
  void consume(std::size_t n);  // drops n bytes of pending_, keeping them in call_raw_ inside a call
  void send_arguments(OutputDelta& out, std::string_view piece);
  void malformed_call(OutputDelta& out);
  bool in_call() const { return state_ == State::kFenceOpen || state_ == State::kArguments; }

  OutputFormat format_;
  State state_;
  std::string pending_;      // text fed but not decided yet
  std::string call_raw_;     // the open call's text from its begin marker (content again if it never closes)
  std::string args_raw_;     // the open call's arguments as written, fence and whitespace included
  std::size_t args_sent_ = 0;  // bytes of args_raw_ sent as argument deltas (or skipped as leading space)
  bool fenced_ = false;      // the open call's arguments began with ``` (V3)
  int calls_named_ = 0, calls_complete_ = 0;
};

struct ToolCall {
  std::string name, arguments;
};
struct AssistantOutput {
  std::string reasoning, content;
  std::vector<ToolCall> tool_calls;  // complete calls only
};
// The whole text at once (non-streaming answers).
AssistantOutput parse_assistant_output(std::string_view text, OutputFormat format);

// The format a chat template's source writes tool calls in: kNone when it has
// no tool-call markers; kDeepSeekV3 when it fences arguments in ```json; else V3.1.
ToolCallFormat tool_format_of_template(std::string_view template_source);
// Whether a rendered prompt leaves the assistant inside "<think>": after its
// last "<｜Assistant｜>" there is a "<think>" with no "</think>" after it.
bool prompt_opens_reasoning(std::string_view rendered_prompt);

}  // namespace dsv3::text
