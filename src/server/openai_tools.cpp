#include "server/openai_tools.h"

#include <fmt/format.h>

#include "grammar/json_schema.h"
#include "grammar/token_trie.h"
#include "server/json_fields.h"
#include "server/tool_grammar.h"

namespace dsv3::server {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

const json* field(const json& body, const char* name) { return optional_field(body, name); }

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

struct Tool {
  CallableTool callable;
  bool strict = false;
};

std::variant<std::vector<Tool>, ApiError> read_tools(const json& tools) {
  if (!tools.is_array()) return invalid("tools", "'tools' must be an array");
  if (tools.size() > 128) return invalid("tools", "'tools' takes at most 128 tools");
  std::vector<Tool> out;
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const json& t = tools[i];
    const std::string p = fmt::format("tools[{}]", i);
    if (!t.is_object()) return invalid(p, fmt::format("'{}' must be an object", p));
    const json* type = field(t, "type");
    if (!type || !type->is_string() || type->get<std::string>() != "function")
      return invalid(p + ".type", fmt::format("'{}.type' must be \"function\"", p));
    const json* f = field(t, "function");
    if (!f || !f->is_object()) return invalid(p + ".function", fmt::format("'{}.function' must be an object", p));
    const json* name = field(*f, "name");
    if (!name || !name->is_string() || !valid_name(name->get<std::string>()))
      return invalid(p + ".function.name", fmt::format("'{}.function.name' must be 1-64 letters, digits, '_', '-' or '.'", p));
    Tool tool;
    tool.callable.name = name->get<std::string>();
    for (const Tool& other : out)
      if (other.callable.name == tool.callable.name)
        return invalid(p + ".function.name", fmt::format("two tools are named '{}'", tool.callable.name));
    if (const json* d = field(*f, "description"); d && !d->is_string())
      return invalid(p + ".function.description", fmt::format("'{}.function.description' must be a string", p));
    if (const json* params = field(*f, "parameters")) {
      if (!params->is_object()) return invalid(p + ".function.parameters", fmt::format("'{}.function.parameters' must be an object", p));
      tool.callable.parameters = *params;
    }
    if (const json* s = field(*f, "strict")) {
      if (!s->is_boolean()) return invalid(p + ".function.strict", fmt::format("'{}.function.strict' must be a boolean", p));
      tool.strict = s->get<bool>();
    }
    out.push_back(std::move(tool));
  }
  return out;
}

// Literals cost the tokens they take, so a short max_tokens still closes a call.
std::function<int64_t(std::string_view)> token_cost(const ModelInfo& model) {
  if (!model.vocabulary) return nullptr;
  return [v = model.vocabulary](std::string_view s) { return v->greedy_tokens(s); };
}

std::variant<std::optional<GrammarSpec>, ApiError> read_response_format(const json& body, const ModelInfo& model) {
  const json* rf = field(body, "response_format");
  if (!rf) return std::optional<GrammarSpec>();
  if (!rf->is_object()) return invalid("response_format", "'response_format' must be an object");
  const json* type = field(*rf, "type");
  if (!type || !type->is_string()) return invalid("response_format.type", "'response_format.type' must be a string");
  const std::string t = type->get<std::string>();
  if (t == "text") return std::optional<GrammarSpec>();
  if (t == "json_object") return std::optional<GrammarSpec>(GrammarSpec{std::make_shared<const grammar::Grammar>(grammar::json_object_grammar(token_cost(model)))});
  if (t != "json_schema")
    return invalid("response_format.type", fmt::format("unknown response_format type '{}' (text, json_object, json_schema)", t));
  const json* js = field(*rf, "json_schema");
  if (!js || !js->is_object()) return invalid("response_format.json_schema", "'response_format.json_schema' must be an object");
  const json* name = field(*js, "name");
  if (name && !name->is_string()) return invalid("response_format.json_schema.name", "'response_format.json_schema.name' must be a string");
  if (const json* s = field(*js, "strict"); s && !s->is_boolean())
    return invalid("response_format.json_schema.strict", "'response_format.json_schema.strict' must be a boolean");
  const json* schema = field(*js, "schema");
  if (!schema) return invalid("response_format.json_schema.schema", "'response_format.json_schema.schema' is required");
  auto g = grammar::schema_grammar(*schema, token_cost(model));
  if (!g) return invalid("response_format.json_schema.schema", g.error().message);
  return std::optional<GrammarSpec>(GrammarSpec{std::make_shared<const grammar::Grammar>(std::move(g).value())});
}

}  // namespace

std::string describe_tools(const ordered_json& tools, text::ToolCallFormat format) {
  std::string s = "## Tools\n\nYou have access to the following tools. To call tools, answer with:\n";
  if (format == text::ToolCallFormat::kDeepSeekV31) {
    s += fmt::format("{}{}NAME{}ARGUMENTS_JSON{}{}\n", kToolCallsBegin, kToolCallBegin, kToolSep, kToolCallEnd, kToolCallsEnd);
  } else {
    s += fmt::format("{}{}function{}NAME\n```json\nARGUMENTS_JSON\n```{}{}\n", kToolCallsBegin, kToolCallBegin, kToolSep,
                     kToolCallEnd, kToolCallsEnd);
  }
  for (const auto& t : tools) {
    const auto& f = t["function"];
    s += fmt::format("\n### {}\n", f["name"].get<std::string>());
    if (f.contains("description") && f["description"].is_string()) s += f["description"].get<std::string>() + "\n";
    if (f.contains("parameters")) s += "Parameters: " + f["parameters"].dump() + "\n";
  }
  return s;
}

std::variant<AgentRequest, ApiError> read_agent_fields(const json& body, const ModelInfo& model) {
  AgentRequest r;
  auto rf = read_response_format(body, model);
  if (auto* e = std::get_if<ApiError>(&rf)) return *e;
  std::optional<GrammarSpec> format_grammar = std::get<std::optional<GrammarSpec>>(rf);

  std::vector<Tool> tools;
  if (const json* t = field(body, "tools")) {
    auto read = read_tools(*t);
    if (auto* e = std::get_if<ApiError>(&read)) return *e;
    tools = std::move(std::get<std::vector<Tool>>(read));
  }
  bool parallel = true;
  if (const json* p = field(body, "parallel_tool_calls")) {
    if (!p->is_boolean()) return invalid("parallel_tool_calls", "'parallel_tool_calls' must be a boolean");
    parallel = p->get<bool>();
  }
  std::string choice = tools.empty() ? "none" : "auto";
  std::string named;
  if (const json* c = field(body, "tool_choice")) {
    if (c->is_string()) {
      choice = c->get<std::string>();
      if (choice != "none" && choice != "auto" && choice != "required")
        return invalid("tool_choice", fmt::format("unknown tool_choice '{}' (none, auto, required, or a function)", choice));
    } else if (c->is_object()) {
      const json* f = field(*c, "function");
      const json* n = f && f->is_object() ? field(*f, "name") : nullptr;
      if (!n || !n->is_string()) return invalid("tool_choice", "'tool_choice' must name a function: {\"type\": \"function\", \"function\": {\"name\": ...}}");
      choice = "named";
      named = n->get<std::string>();
    } else {
      return invalid("tool_choice", "'tool_choice' must be a string or an object");
    }
    if (choice != "none" && tools.empty()) return invalid("tool_choice", "'tool_choice' needs 'tools'");
  }
  if (!tools.empty()) {
    r.tools = ordered_json::parse(field(body, "tools")->dump());
    if (choice != "none") {
      if (model.tool_format == text::ToolCallFormat::kNone)
        return invalid("tools", "this model's chat template writes no tool calls; start the server with --tool-parser");
      r.format = model.tool_format;
    }
  }
  const bool wants_grammar = format_grammar || (!tools.empty() && choice != "none");
  if (wants_grammar && !model.vocabulary)
    return invalid(format_grammar ? "response_format" : "tools", "constrained decoding needs the model's tokenizer");

  std::vector<CallableTool> callable;
  for (const Tool& t : tools) {
    if (choice == "named" && t.callable.name != named) continue;
    // auto: a call's arguments are any object unless the tool is strict
    const bool constrain = choice != "auto" || t.strict;
    callable.push_back({t.callable.name, constrain ? t.callable.parameters : json()});
  }
  if (choice == "named" && callable.empty())
    return invalid("tool_choice", fmt::format("tool_choice names '{}', which is not among the tools", named));
  const int max_calls = parallel ? 8 : 1;
  if (choice == "required" || choice == "named") {
    auto g = tool_call_grammar(callable, r.format, max_calls, false, token_cost(model));
    if (!g) return invalid("tools", g.error().message);
    r.grammar = GrammarSpec{std::move(g).value()};
  } else if (format_grammar) {
    r.grammar = std::move(format_grammar);
  } else if (choice == "auto") {
    // the calls are free to come or not; once begun, they follow the format
    const auto ids = model.encode(kToolCallsBegin);
    if (ids.size() == 1) {
      auto g = tool_call_grammar(callable, r.format, max_calls, true, token_cost(model));
      if (!g) return invalid("tools", g.error().message);
      r.grammar = GrammarSpec{std::move(g).value(), ids[0]};
    }
  }
  return r;
}

}  // namespace dsv3::server
