#include "server/anthropic_request.h"

#include <fmt/format.h>

#include <limits>
#include <optional>
#include <string>

#include "server/json_fields.h"

namespace dsv3::server {

using nlohmann::json;

namespace {

using Translation = std::variant<json, ApiError>;

std::optional<ApiError> need_string(const json& v, const std::string& param) {
  if (!v.is_string()) return field_type_error(param, "a string", v);
  return std::nullopt;
}

// A required string field of a block.
std::variant<std::string, ApiError> string_field(const json& object, const char* name, const std::string& prefix) {
  const std::string p = fmt::format("{}.{}", prefix, name);
  const json* v = optional_field(object, name);
  if (!v) return invalid(p, fmt::format("'{}' is required", p));
  if (auto e = need_string(*v, p)) return *e;
  return v->get<std::string>();
}

// The block's "type", required.
std::variant<std::string, ApiError> block_type(const json& block, const std::string& p) {
  if (!block.is_object()) return field_type_error(p, "an object", block);
  return string_field(block, "type", p);
}

// Text blocks may not join without a break: two paragraphs stay two.
void append_text(std::string& to, const std::string& text) {
  if (!to.empty() && !text.empty()) to += '\n';
  to += text;
}

// A string, or an array of text blocks (system prompts, tool results).
std::variant<std::string, ApiError> text_of(const json& v, const std::string& param, const char* what) {
  if (v.is_string()) return v.get<std::string>();
  if (!v.is_array()) return field_type_error(param, fmt::format("a string or an array of {}", what).c_str(), v);
  std::string text;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", param, i);
    auto type = block_type(v[i], p);
    if (auto* e = std::get_if<ApiError>(&type)) return *e;
    if (std::get<std::string>(type) != "text")
      return invalid(p + ".type", fmt::format("'{}' blocks are not supported here; only 'text'", std::get<std::string>(type)));
    auto t = string_field(v[i], "text", p);
    if (auto* e = std::get_if<ApiError>(&t)) return *e;
    append_text(text, std::get<std::string>(t));
  }
  return text;
}

// A user turn: its text, and each tool_result as a "tool" message of its own
// (in the order given, so results follow the calls they answer).
std::optional<ApiError> user_messages(const json& content, const std::string& p, json& out) {
  if (content.is_string()) {
    out.push_back({{"role", "user"}, {"content", content}});
    return std::nullopt;
  }
  std::string text;
  bool any = false;
  auto flush = [&] {
    if (text.empty()) return;
    out.push_back({{"role", "user"}, {"content", text}});
    text.clear();
    any = true;
  };
  for (std::size_t i = 0; i < content.size(); ++i) {
    const json& b = content[i];
    const std::string bp = fmt::format("{}[{}]", p, i);
    auto type = block_type(b, bp);
    if (auto* e = std::get_if<ApiError>(&type)) return *e;
    const std::string& t = std::get<std::string>(type);
    if (t == "text") {
      auto s = string_field(b, "text", bp);
      if (auto* e = std::get_if<ApiError>(&s)) return *e;
      append_text(text, std::get<std::string>(s));
    } else if (t == "tool_result") {
      auto id = string_field(b, "tool_use_id", bp);
      if (auto* e = std::get_if<ApiError>(&id)) return *e;
      std::string result;
      if (const json* c = optional_field(b, "content")) {
        auto r = text_of(*c, bp + ".content", "text blocks");
        if (auto* e = std::get_if<ApiError>(&r)) return *e;
        result = std::get<std::string>(r);
      }
      bool is_error = false;
      if (const json* err = optional_field(b, "is_error")) {
        if (!err->is_boolean()) return field_type_error(bp + ".is_error", "a boolean", *err);
        is_error = err->get<bool>();
      }
      // OpenAI's tool messages have no error flag: the model reads it in the text
      if (is_error) result = "Error: " + result;
      flush();
      out.push_back({{"role", "tool"}, {"tool_call_id", std::get<std::string>(id)}, {"content", result}});
      any = true;
    } else {
      return invalid(bp + ".type", fmt::format("'{}' blocks are not supported in user messages (text, tool_result)", t));
    }
  }
  if (!any) {  // text alone, maybe none: still a turn
    out.push_back({{"role", "user"}, {"content", text}});
    return std::nullopt;
  }
  flush();
  return std::nullopt;
}

// An assistant turn: its text, and its tool_use blocks as OpenAI tool_calls.
// Thinking from earlier turns is dropped (templates leave it out of history).
std::optional<ApiError> assistant_message(const json& content, const std::string& p, json& out) {
  if (content.is_string()) {
    out.push_back({{"role", "assistant"}, {"content", content}});
    return std::nullopt;
  }
  std::string text;
  json calls = json::array();
  for (std::size_t i = 0; i < content.size(); ++i) {
    const json& b = content[i];
    const std::string bp = fmt::format("{}[{}]", p, i);
    auto type = block_type(b, bp);
    if (auto* e = std::get_if<ApiError>(&type)) return *e;
    const std::string& t = std::get<std::string>(type);
    if (t == "text") {
      auto s = string_field(b, "text", bp);
      if (auto* e = std::get_if<ApiError>(&s)) return *e;
      append_text(text, std::get<std::string>(s));
    } else if (t == "tool_use") {
      auto id = string_field(b, "id", bp);
      if (auto* e = std::get_if<ApiError>(&id)) return *e;
      auto name = string_field(b, "name", bp);
      if (auto* e = std::get_if<ApiError>(&name)) return *e;
      const json* input = optional_field(b, "input");
      if (!input) return invalid(bp + ".input", fmt::format("'{}.input' is required", bp));
      if (!input->is_object()) return field_type_error(bp + ".input", "an object", *input);
      calls.push_back({{"id", std::get<std::string>(id)},
                       {"type", "function"},
                       {"function", {{"name", std::get<std::string>(name)}, {"arguments", input->dump()}}}});
    } else if (t != "thinking" && t != "redacted_thinking") {
      return invalid(bp + ".type",
                     fmt::format("'{}' blocks are not supported in assistant messages (text, tool_use, thinking)", t));
    }
  }
  json msg = {{"role", "assistant"}};
  // DeepSeek's templates write a call's text only when content is not none
  msg["content"] = text.empty() && !calls.empty() ? json(nullptr) : json(text);
  if (!calls.empty()) msg["tool_calls"] = std::move(calls);
  out.push_back(std::move(msg));
  return std::nullopt;
}

std::optional<ApiError> messages(const json& body, json& out) {
  if (const json* system = optional_field(body, "system")) {
    auto s = text_of(*system, "system", "text blocks");
    if (auto* e = std::get_if<ApiError>(&s)) return *e;
    if (!std::get<std::string>(s).empty()) out.push_back({{"role", "system"}, {"content", std::get<std::string>(s)}});
  }
  const json* msgs = optional_field(body, "messages");
  if (!msgs) return invalid("messages", "'messages' is required");
  if (!msgs->is_array()) return field_type_error("messages", "an array", *msgs);
  if (msgs->empty()) return invalid("messages", "'messages' must not be empty");
  for (std::size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string p = fmt::format("messages[{}]", i);
    if (!m.is_object()) return field_type_error(p, "an object", m);
    auto role = string_field(m, "role", p);
    if (auto* e = std::get_if<ApiError>(&role)) return *e;
    const std::string& r = std::get<std::string>(role);
    if (r != "user" && r != "assistant")
      return invalid(p + ".role", fmt::format("unknown role '{}' (user, assistant; the system prompt is 'system')", r));
    const json* content = optional_field(m, "content");
    if (!content) return invalid(p + ".content", fmt::format("'{}.content' is required", p));
    if (!content->is_string() && !content->is_array())
      return field_type_error(p + ".content", "a string or an array of content blocks", *content);
    if (auto e = r == "user" ? user_messages(*content, p + ".content", out)
                             : assistant_message(*content, p + ".content", out))
      return e;
  }
  return std::nullopt;
}

std::optional<ApiError> tools(const json& body, json& out) {
  const json* tools = optional_field(body, "tools");
  if (!tools) return std::nullopt;
  if (!tools->is_array()) return field_type_error("tools", "an array", *tools);
  json list = json::array();
  for (std::size_t i = 0; i < tools->size(); ++i) {
    const json& t = (*tools)[i];
    const std::string p = fmt::format("tools[{}]", i);
    if (!t.is_object()) return field_type_error(p, "an object", t);
    auto name = string_field(t, "name", p);
    if (auto* e = std::get_if<ApiError>(&name)) return *e;
    json fn = {{"name", std::get<std::string>(name)}};
    if (const json* d = optional_field(t, "description")) {
      if (auto e = need_string(*d, p + ".description")) return e;
      fn["description"] = *d;
    }
    const json* schema = optional_field(t, "input_schema");
    // Anthropic's server tools (web search, ...) have a type and no schema
    if (!schema) return invalid(p + ".input_schema", fmt::format("'{}.input_schema' is required (only client tools are supported)", p));
    if (!schema->is_object()) return field_type_error(p + ".input_schema", "an object", *schema);
    fn["parameters"] = *schema;
    list.push_back({{"type", "function"}, {"function", std::move(fn)}});
  }
  out["tools"] = std::move(list);
  return std::nullopt;
}

std::optional<ApiError> tool_choice(const json& body, json& out) {
  const json* c = optional_field(body, "tool_choice");
  if (!c) return std::nullopt;
  if (!c->is_object()) return field_type_error("tool_choice", "an object", *c);
  auto type = string_field(*c, "type", "tool_choice");
  if (auto* e = std::get_if<ApiError>(&type)) return *e;
  const std::string& t = std::get<std::string>(type);
  if (t == "auto") {
    out["tool_choice"] = "auto";
  } else if (t == "any") {
    out["tool_choice"] = "required";
  } else if (t == "none") {
    out["tool_choice"] = "none";
  } else if (t == "tool") {
    auto name = string_field(*c, "name", "tool_choice");
    if (auto* e = std::get_if<ApiError>(&name)) return *e;
    out["tool_choice"] = {{"type", "function"}, {"function", {{"name", std::get<std::string>(name)}}}};
  } else {
    return invalid("tool_choice.type", fmt::format("unknown tool_choice type '{}' (auto, any, tool, none)", t));
  }
  if (const json* d = optional_field(*c, "disable_parallel_tool_use")) {
    if (!d->is_boolean()) return field_type_error("tool_choice.disable_parallel_tool_use", "a boolean", *d);
    if (d->get<bool>()) out["parallel_tool_calls"] = false;
  }
  return std::nullopt;
}

std::optional<ApiError> thinking(const json& body, json& out) {
  const json* th = optional_field(body, "thinking");
  if (!th) return std::nullopt;
  if (!th->is_object()) return field_type_error("thinking", "an object", *th);
  auto type = string_field(*th, "type", "thinking");
  if (auto* e = std::get_if<ApiError>(&type)) return *e;
  const std::string& t = std::get<std::string>(type);
  if (t == "disabled") {
    out["chat_template_kwargs"] = {{"thinking", false}};
    return std::nullopt;
  }
  if (t != "enabled") return invalid("thinking.type", fmt::format("unknown thinking type '{}' (enabled, disabled)", t));
  // the budget is checked, not enforced: the template only switches thinking on
  const json* budget = optional_field(*th, "budget_tokens");
  if (!budget) return invalid("thinking.budget_tokens", "'thinking.budget_tokens' is required when thinking is enabled");
  if (!budget->is_number_integer()) return field_type_error("thinking.budget_tokens", "an integer", *budget);
  if (!budget->is_number_unsigned() && budget->get<int64_t>() < 1)
    return invalid("thinking.budget_tokens", "'thinking.budget_tokens' must be at least 1");
  out["chat_template_kwargs"] = {{"thinking", true}};
  return std::nullopt;
}

// A number in [lo, hi], copied to the OpenAI body under the same name.
std::optional<ApiError> number(const json& body, const char* name, double lo, double hi, json& out) {
  const json* v = optional_field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) return field_type_error(name, "a number", *v);
  const double d = v->get<double>();
  if (!(d >= lo && d <= hi)) return invalid(name, fmt::format("'{}' must be in [{}, {}], got {}", name, lo, hi, d));
  out[name] = *v;
  return std::nullopt;
}

std::optional<ApiError> sampling(const json& body, AnthropicEndpoint endpoint, json& out) {
  if (endpoint == AnthropicEndpoint::kMessages) {
    const json* mt = optional_field(body, "max_tokens");
    if (!mt) return invalid("max_tokens", "'max_tokens' is required");
    if (!mt->is_number_integer()) return field_type_error("max_tokens", "an integer", *mt);
    if (!mt->is_number_unsigned() && mt->get<int64_t>() < 1) return invalid("max_tokens", "'max_tokens' must be at least 1");
    // past the context it is cut to the room the prompt leaves, as for OpenAI requests
    out["max_tokens"] = *mt;
  }
  if (auto e = number(body, "temperature", 0.0, 1.0, out)) return e;
  if (auto e = number(body, "top_p", 0.0, 1.0, out)) return e;
  if (const json* k = optional_field(body, "top_k")) {
    if (!k->is_number_integer()) return field_type_error("top_k", "an integer", *k);
    if (!k->is_number_unsigned() && k->get<int64_t>() < 0) return invalid("top_k", "'top_k' must not be negative");
    if (k->is_number_unsigned() && k->get<uint64_t>() > (1u << 30)) return invalid("top_k", "'top_k' must be at most 2^30");
    out["top_k"] = *k;
  }
  if (const json* s = optional_field(body, "stop_sequences")) {
    if (!s->is_array()) return field_type_error("stop_sequences", "an array of strings", *s);
    if (s->size() > 16) return invalid("stop_sequences", "'stop_sequences' takes at most 16 strings");
    for (std::size_t i = 0; i < s->size(); ++i)
      if (auto e = need_string((*s)[i], fmt::format("stop_sequences[{}]", i))) return e;
    if (!s->empty()) out["stop"] = *s;
  }
  if (const json* st = optional_field(body, "stream")) {
    if (!st->is_boolean()) return field_type_error("stream", "a boolean", *st);
    if (endpoint == AnthropicEndpoint::kMessages) out["stream"] = *st;
  }
  return std::nullopt;
}

// Parsed and not too deep, or the error (malformed JSON included).
std::variant<json, ApiError> read_body(std::string_view body, int max_json_depth) {
  if (auto e = json_too_deep(body, max_json_depth)) return *e;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return invalid("", "the request body is not valid JSON", "invalid_json");
  return j;
}

}  // namespace

namespace {

// Anthropic's errors have no param: the message names the field instead.
ApiError naming_field(ApiError e) {
  if (!e.param.empty() && e.message.find(e.param) == std::string::npos) e.message = e.param + ": " + e.message;
  return e;
}

Translation translate(const json& body, AnthropicEndpoint endpoint) {
  if (!body.is_object()) return invalid("", "the request body must be a JSON object");
  json out = json::object();
  const json* model = optional_field(body, "model");
  if (!model) return invalid("model", "'model' is required");
  if (auto e = need_string(*model, "model")) return *e;
  out["model"] = *model;
  if (auto e = sampling(body, endpoint, out)) return *e;
  if (auto e = tools(body, out)) return *e;
  if (auto e = tool_choice(body, out)) return *e;
  if (auto e = thinking(body, out)) return *e;
  json msgs = json::array();
  if (auto e = messages(body, msgs)) return *e;
  out["messages"] = std::move(msgs);
  // metadata, service_tier and the like change nothing here: ignored, as unknown fields are
  return out;
}

}  // namespace

Translation anthropic_to_openai(const json& body, AnthropicEndpoint endpoint) {
  Translation t = translate(body, endpoint);
  if (auto* e = std::get_if<ApiError>(&t)) return naming_field(std::move(*e));
  return t;
}

ParseResult parse_anthropic_request(std::string_view body, const ModelInfo& model, int max_json_depth) {
  auto j = read_body(body, max_json_depth);
  if (auto* e = std::get_if<ApiError>(&j)) return *e;
  auto openai = anthropic_to_openai(std::get<json>(j), AnthropicEndpoint::kMessages);
  if (auto* e = std::get_if<ApiError>(&openai)) return *e;
  return parse_request_json(Endpoint::kChat, std::get<json>(openai), model);
}

std::variant<int64_t, ApiError> count_anthropic_tokens(std::string_view body, const ModelInfo& model, int max_json_depth) {
  auto j = read_body(body, max_json_depth);
  if (auto* e = std::get_if<ApiError>(&j)) return *e;
  auto openai = anthropic_to_openai(std::get<json>(j), AnthropicEndpoint::kCountTokens);
  if (auto* e = std::get_if<ApiError>(&openai)) return *e;
  // the same parser renders and tokenizes; a context without end lets any length be counted
  ModelInfo unbounded = model;
  unbounded.context = std::numeric_limits<int64_t>::max();
  ParseResult r = parse_request_json(Endpoint::kChat, std::get<json>(openai), unbounded);
  if (auto* e = std::get_if<ApiError>(&r)) return *e;
  return static_cast<int64_t>(std::get<ParsedRequest>(r).job.prompt.size());
}

}  // namespace dsv3::server
