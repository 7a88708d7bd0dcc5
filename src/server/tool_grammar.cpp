#include "server/tool_grammar.h"

#include <fmt/format.h>

#include "grammar/json_schema.h"

namespace dsv3::server {

using grammar::Grammar;
using grammar::Node;
using grammar::NodeKind;

Result<std::shared_ptr<const grammar::Grammar>> tool_call_grammar(const std::vector<CallableTool>& tools,
                                                                  text::ToolCallFormat format, int max_calls,
                                                                  bool after_begin,
                                                                  std::function<int64_t(std::string_view)> literal_cost) {
  auto g = std::make_shared<Grammar>();
  g->literal_cost = std::move(literal_cost);
  Node one;
  one.kind = NodeKind::kAlternatives;
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const CallableTool& t = tools[i];
    uint32_t args = 0;
    if (t.parameters.is_null()) {
      g->any_value();
      args = g->any.object;
    } else {
      auto a = grammar::add_schema(*g, t.parameters);
      if (!a) return make_error("tool '{}': parameters: {}", t.name, a.error().message);
      args = *a;
    }
    Node call;
    call.kind = NodeKind::kSequence;
    if (format == text::ToolCallFormat::kDeepSeekV31) {
      call.children = {g->literal(fmt::format("{}{}{}", kToolCallBegin, t.name, kToolSep)), args, g->literal(kToolCallEnd)};
    } else {
      call.children = {g->literal(fmt::format("{}function{}{}\n```json\n", kToolCallBegin, kToolSep, t.name)), args,
                       g->literal(fmt::format("\n```{}", kToolCallEnd))};
    }
    one.children.push_back(g->add(std::move(call)));
  }
  const uint32_t call = g->add(std::move(one));
  Node calls;
  calls.kind = NodeKind::kRepeat;
  calls.children = {call};
  if (format != text::ToolCallFormat::kDeepSeekV31) calls.children.push_back(g->literal("\n"));
  calls.min_items = 1;
  calls.max_items = std::max(1, max_calls);
  Node all;
  all.kind = NodeKind::kSequence;
  if (!after_begin) all.children.push_back(g->literal(kToolCallsBegin));
  all.children.push_back(g->add(std::move(calls)));
  all.children.push_back(g->literal(kToolCallsEnd));
  g->root = g->add(std::move(all));
  g->finish();
  if (g->min_bytes[g->root] >= grammar::kNoValue) return make_error("no tool call satisfies the tools' schemas");
  return std::shared_ptr<const Grammar>(std::move(g));
}

}  // namespace dsv3::server
