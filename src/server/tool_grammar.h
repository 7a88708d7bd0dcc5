// The grammar of tool calls as DeepSeek models write them: the calls'
// markers, each call's name, and its arguments as JSON of the tool's
// parameter schema.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "grammar/grammar.h"
#include "text/assistant_output.h"

namespace dsv3::server {

struct CallableTool {
  std::string name;
  nlohmann::json parameters;  // a JSON schema; null: any object
};

// One call, or up to `max_calls` (joined as the format joins them).
// after_begin: the grammar starts after "<｜tool▁calls▁begin｜>" (a trigger
// token already opened the calls). An error names the tool whose schema fails.
// literal_cost: see grammar::Grammar.
Result<std::shared_ptr<const grammar::Grammar>> tool_call_grammar(const std::vector<CallableTool>& tools,
                                                                  text::ToolCallFormat format, int max_calls,
                                                                  bool after_begin,
                                                                  std::function<int64_t(std::string_view)> literal_cost = nullptr);

// DeepSeek's markers (bars U+FF5C, separators U+2581).
inline constexpr const char* kToolCallsBegin = "<｜tool▁calls▁begin｜>";
inline constexpr const char* kToolCallsEnd = "<｜tool▁calls▁end｜>";
inline constexpr const char* kToolCallBegin = "<｜tool▁call▁begin｜>";
inline constexpr const char* kToolCallEnd = "<｜tool▁call▁end｜>";
inline constexpr const char* kToolSep = "<｜tool▁sep｜>";

}  // namespace dsv3::server
