#include "server/openai_request.h"

#include <fmt/format.h>

#include <limits>

#include "server/json_fields.h"
#include "server/openai_tools.h"

namespace dsv3::server {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

const json* field(const json& body, const char* name) { return optional_field(body, name); }
ApiError wrong_type(const std::string& param, const char* want, const json& got) { return field_type_error(param, want, got); }

// Reads an optional number in [lo, hi] into out; returns an error if present and bad.
std::optional<ApiError> read_number(const json& body, const char* name, double lo, double hi, float& out) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) return wrong_type(name, "a number", *v);
  const double d = v->get<double>();
  if (!(d >= lo && d <= hi)) return invalid(name, fmt::format("'{}' must be in [{}, {}], got {}", name, lo, hi, d));
  out = static_cast<float>(d);
  return std::nullopt;
}

std::optional<ApiError> read_int(const json& body, const char* name, int64_t lo, int64_t hi, std::optional<int64_t>& out) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) return wrong_type(name, "an integer", *v);
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return invalid(name, fmt::format("'{}' must be in [{}, {}]", name, lo, hi));
  const int64_t i = v->get<int64_t>();
  if (i < lo || i > hi) return invalid(name, fmt::format("'{}' must be in [{}, {}], got {}", name, lo, hi, i));
  out = i;
  return std::nullopt;
}

std::optional<ApiError> read_bool(const json& body, const char* name, bool& out) {
  const json* v = field(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) return wrong_type(name, "a boolean", *v);
  out = v->get<bool>();
  return std::nullopt;
}

// The text of a message's content: a string, or an array of {type: "text", text} parts.
std::variant<std::string, ApiError> content_text(const json& content, const std::string& param) {
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) return wrong_type(param, "a string or an array of content parts", content);
  std::string text;
  for (std::size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string p = fmt::format("{}[{}]", param, i);
    if (!part.is_object()) return wrong_type(p, "an object", part);
    const json* type = field(part, "type");
    if (!type || !type->is_string() || type->get<std::string>() != "text")
      return invalid(p + ".type", "only content parts of type 'text' are supported");
    const json* t = field(part, "text");
    if (!t || !t->is_string()) return wrong_type(p + ".text", "a string", t ? *t : json(nullptr));
    text += t->get<std::string>();
  }
  return text;
}

// The rendered prompt of a chat request.
std::variant<std::string, ApiError> chat_prompt(const json& body, const ModelInfo& model, const AgentRequest& agent,
                                                const ordered_json& kwargs) {
  const json* msgs = field(body, "messages");
  if (!msgs) return invalid("messages", "'messages' is required");
  if (!msgs->is_array()) return wrong_type("messages", "an array", *msgs);
  if (msgs->empty()) return invalid("messages", "'messages' must not be empty");
  ordered_json out = ordered_json::array();
  for (std::size_t i = 0; i < msgs->size(); ++i) {
    const json& m = (*msgs)[i];
    const std::string p = fmt::format("messages[{}]", i);
    if (!m.is_object()) return wrong_type(p, "an object", m);
    const json* role = field(m, "role");
    if (!role) return invalid(p + ".role", fmt::format("'{}.role' is required", p));
    if (!role->is_string()) return wrong_type(p + ".role", "a string", *role);
    std::string r = role->get<std::string>();
    if (r == "developer") r = "system";  // the newer name for the same thing
    if (r != "system" && r != "user" && r != "assistant" && r != "tool")
      return invalid(p + ".role", fmt::format("unknown role '{}' (system, developer, user, assistant, tool)", r));
    ordered_json msg = {{"role", r}};
    const json* content = field(m, "content");
    if (content) {
      auto text = content_text(*content, p + ".content");
      if (auto* e = std::get_if<ApiError>(&text)) return *e;
      msg["content"] = std::get<std::string>(text);
    } else if (r != "assistant") {
      return invalid(p + ".content", fmt::format("'{}.content' is required", p));
    } else {
      msg["content"] = nullptr;
    }
    // the template may render these; passed on as given
    for (const char* extra : {"tool_call_id", "name"})
      if (const json* x = field(m, extra)) msg[extra] = ordered_json::parse(x->dump());
    if (const json* calls = field(m, "tool_calls")) {
      if (!calls->is_array()) return wrong_type(p + ".tool_calls", "an array", *calls);
      ordered_json cs = ordered_json::array();
      for (std::size_t k = 0; k < calls->size(); ++k) {
        const json& c = (*calls)[k];
        const std::string q = fmt::format("{}.tool_calls[{}]", p, k);
        const json* f = c.is_object() ? field(c, "function") : nullptr;
        const json* name = f && f->is_object() ? field(*f, "name") : nullptr;
        if (!name || !name->is_string()) return invalid(q + ".function.name", fmt::format("'{}.function.name' must be a string", q));
        const json* args = field(*f, "arguments");
        // arguments are a JSON string; some clients send the object itself
        std::string a = !args ? "{}" : args->is_string() ? args->get<std::string>() : args->dump();
        cs.push_back({{"id", c.value("id", fmt::format("call_{}", k))}, {"type", "function"},
                      {"function", {{"name", name->get<std::string>()}, {"arguments", a}}}});
      }
      msg["tool_calls"] = std::move(cs);
      // DeepSeek's templates render the calls of an assistant message whose content is none
      if (msg["content"].is_string() && msg["content"].get<std::string>().empty()) msg["content"] = nullptr;
    }
    out.push_back(std::move(msg));
  }
  if (!model.render_chat) return invalid("messages", "this model has no chat template; use /v1/completions");
  ordered_json tools = agent.tools;
  if (!agent.tools.is_null() && !model.template_renders_tools) {
    // the template cannot show the tools: a system message does
    const std::string about = describe_tools(agent.tools, model.tool_format);
    if (!out.empty() && out[0]["role"] == "system" && out[0]["content"].is_string())
      out[0]["content"] = out[0]["content"].get<std::string>() + "\n\n" + about;
    else
      out.insert(out.begin(), ordered_json{{"role", "system"}, {"content", about}});
    tools = nullptr;
  }
  auto text = model.render_chat(out, tools, kwargs);
  if (!text) return invalid("messages", "the chat template failed: " + text.error().message);
  return std::move(text).value();
}

std::variant<std::vector<int32_t>, ApiError> completion_prompt(const json& body, const ModelInfo& model) {
  const json* prompt = field(body, "prompt");
  if (!prompt) return invalid("prompt", "'prompt' is required");
  auto from_text = [&](const std::string& s) {
    std::vector<int32_t> ids;
    if (model.bos_id >= 0) ids.push_back(model.bos_id);
    const auto body_ids = model.encode(s);
    ids.insert(ids.end(), body_ids.begin(), body_ids.end());
    return ids;
  };
  if (prompt->is_string()) return from_text(prompt->get<std::string>());
  if (!prompt->is_array()) return wrong_type("prompt", "a string or an array of token ids", *prompt);
  if (prompt->empty()) return invalid("prompt", "'prompt' must not be empty");
  // a batch of one: ["text"] or [[ids]]; unwrapped in place, a level per turn, not by copy and recursion
  while (prompt->size() == 1 && (*prompt)[0].is_array()) {
    prompt = &(*prompt)[0];
    if (prompt->empty()) return invalid("prompt", "'prompt' must not be empty");
  }
  if (prompt->size() == 1 && (*prompt)[0].is_string()) return from_text((*prompt)[0].get<std::string>());
  std::vector<int32_t> ids;
  for (std::size_t i = 0; i < prompt->size(); ++i) {
    const json& v = (*prompt)[i];
    const std::string p = fmt::format("prompt[{}]", i);
    if (v.is_string() || v.is_array()) return invalid("prompt", "only one prompt per request is supported");
    if (!v.is_number_integer()) return wrong_type(p, "a token id", v);
    const int64_t id = v.is_number_unsigned() && v.get<uint64_t>() > 1u << 31 ? -1 : v.get<int64_t>();
    if (id < 0 || id >= model.vocab_size)
      return invalid(p, fmt::format("token id {} is outside the vocabulary [0, {})", v.dump(), model.vocab_size));
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

std::optional<ApiError> read_stop(const json& body, std::vector<std::string>& out) {
  const json* v = field(body, "stop");
  if (!v) return std::nullopt;
  auto add = [&](const std::string& s) {
    if (!s.empty()) out.push_back(s);  // an empty stop string would end every answer at once
  };
  if (v->is_string()) {
    add(v->get<std::string>());
    return std::nullopt;
  }
  if (!v->is_array()) return wrong_type("stop", "a string or an array of strings", *v);
  if (v->size() > 16) return invalid("stop", "'stop' takes at most 16 strings");
  for (std::size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) return wrong_type(fmt::format("stop[{}]", i), "a string", (*v)[i]);
    add((*v)[i].get<std::string>());
  }
  return std::nullopt;
}

std::optional<ApiError> read_logit_bias(const json& body, int64_t vocab, std::vector<std::pair<int32_t, float>>& out) {
  const json* v = field(body, "logit_bias");
  if (!v) return std::nullopt;
  if (!v->is_object()) return wrong_type("logit_bias", "an object of token id -> bias", *v);
  for (const auto& [key, bias] : v->items()) {
    const std::string p = "logit_bias." + key;
    // a token id in plain decimal: no sign, spaces or leading zeros (stoll took " 5" and "+5")
    const bool digits = !key.empty() && key.size() <= 10 && key.find_first_not_of("0123456789") == std::string::npos &&
                        (key.size() == 1 || key[0] != '0');
    if (!digits) return invalid("logit_bias", fmt::format("logit_bias key '{}' is not a token id", key));
    const int64_t id = std::stoll(key);
    if (id < 0 || id >= vocab)
      return invalid("logit_bias", fmt::format("logit_bias token {} is outside the vocabulary [0, {})", id, vocab));
    if (!bias.is_number()) return wrong_type(p, "a number", bias);
    const double b = bias.get<double>();
    if (!(b >= -100.0 && b <= 100.0)) return invalid("logit_bias", fmt::format("logit_bias for token {} must be in [-100, 100]", id));
    out.emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
  }
  return std::nullopt;
}

}  // namespace

ParseResult parse_request(Endpoint endpoint, std::string_view body, const ModelInfo& model, int max_json_depth) {
  if (auto e = json_too_deep(body, max_json_depth)) return *e;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return invalid("", "the request body is not valid JSON", "invalid_json");
  return parse_request_json(endpoint, j, model);
}

ParseResult parse_request_json(Endpoint endpoint, const json& body, const ModelInfo& model) {
  if (!body.is_object()) return invalid("", "the request body must be a JSON object");
  ParsedRequest r;
  r.endpoint = endpoint;
  const bool chat = endpoint == Endpoint::kChat;

  const json* m = field(body, "model");
  if (!m) return invalid("model", "'model' is required");
  if (!m->is_string()) return wrong_type("model", "a string", *m);
  // any name is taken by default (as llama-server and ollama do): clients
  // hard-code names like "gpt-4o"; --strict-model-name restores the 404
  if (model.strict_model_name && m->get<std::string>() != model.id) {
    return invalid(404, "model", fmt::format("the model '{}' does not exist; this server serves '{}'", m->get<std::string>(), model.id),
                   "model_not_found");
  }

  // fields taken and not acted on (as llama-server and vLLM do), checked for their type
  if (const json* v = field(body, "user"); v && !v->is_string()) return wrong_type("user", "a string", *v);
  if (const json* v = field(body, "service_tier"); v && !v->is_string()) return wrong_type("service_tier", "a string", *v);
  if (const json* v = field(body, "reasoning_effort"); v && !v->is_string()) return wrong_type("reasoning_effort", "a string", *v);
  if (const json* v = field(body, "store"); v && !v->is_boolean()) return wrong_type("store", "a boolean", *v);
  if (const json* v = field(body, "metadata"); v && !v->is_object()) return wrong_type("metadata", "an object", *v);

  SamplingParams& s = r.job.sampling;
  s = model.defaults;
  s.logit_bias.clear();
  s.seed.reset();
  s.frequency_penalty = s.presence_penalty = 0.0f;
  if (auto e = read_number(body, "temperature", 0.0, 2.0, s.temperature)) return *e;
  if (auto e = read_number(body, "top_p", 0.0, 1.0, s.top_p)) return *e;
  if (s.top_p <= 0.0f) {  // OpenAI allows 0: only the best token
    s.top_p = 1.0f;
    s.temperature = 0.0f;
  }
  if (auto e = read_number(body, "frequency_penalty", -2.0, 2.0, s.frequency_penalty)) return *e;
  if (auto e = read_number(body, "presence_penalty", -2.0, 2.0, s.presence_penalty)) return *e;
  std::optional<int64_t> top_k;
  if (auto e = read_int(body, "top_k", 0, 1 << 30, top_k)) return *e;  // a common extension
  if (top_k) s.top_k = static_cast<int32_t>(*top_k);
  if (const json* seed = field(body, "seed")) {
    if (!seed->is_number_integer()) return wrong_type("seed", "an integer", *seed);
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
  }
  if (auto e = read_logit_bias(body, model.vocab_size, s.logit_bias)) return *e;

  std::optional<int64_t> n, max_tokens, max_completion_tokens;
  if (auto e = read_int(body, "n", 1, kMaxSamples, n)) return *e;
  if (n) r.job.n = static_cast<int32_t>(*n);
  // no upper bound: a value past the context is cut to the room the prompt leaves (below)
  constexpr int64_t kAnyPositive = std::numeric_limits<int64_t>::max();
  if (auto e = read_int(body, "max_tokens", 1, kAnyPositive, max_tokens)) return *e;
  if (chat)
    if (auto e = read_int(body, "max_completion_tokens", 1, kAnyPositive, max_completion_tokens)) return *e;
  if (auto e = read_stop(body, r.job.stop)) return *e;
  if (auto e = read_bool(body, "stream", r.stream)) return *e;
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) return wrong_type("stream_options", "an object", *so);
    if (const json* iu = field(*so, "include_usage")) {
      if (!iu->is_boolean()) return wrong_type("stream_options.include_usage", "a boolean", *iu);
      r.include_usage = iu->get<bool>();
    }
  }

  if (chat) {
    if (auto e = read_bool(body, "logprobs", r.logprobs)) return *e;
    std::optional<int64_t> top;
    if (auto e = read_int(body, "top_logprobs", 0, 20, top)) return *e;
    if (top && !r.logprobs) return invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    if (r.logprobs) r.job.top_logprobs = static_cast<int32_t>(top.value_or(0));
  } else {
    std::optional<int64_t> lp;
    if (auto e = read_int(body, "logprobs", 0, 20, lp)) return *e;
    if (lp) {
      r.logprobs = true;
      r.job.top_logprobs = static_cast<int32_t>(*lp);
    }
    bool echo = false;
    if (auto e = read_bool(body, "echo", echo)) return *e;
    if (echo) return invalid("echo", "'echo' is not supported");
    std::optional<int64_t> best_of;
    if (auto e = read_int(body, "best_of", 1, 1, best_of)) {
      e->message = "only best_of=1 is supported";
      return *e;
    }
    if (const json* suffix = field(body, "suffix")) {
      if (!suffix->is_string()) return wrong_type("suffix", "a string", *suffix);
      if (!suffix->get<std::string>().empty()) return invalid("suffix", "'suffix' is not supported");
    }
  }
  if (Status st = s.validate(model.vocab_size); !st) return invalid("", st.error().message);

  // the prompt last: rendering and tokenizing cost the most
  if (chat) {
    ordered_json kwargs = model.default_template_kwargs.is_object() ? ordered_json::parse(model.default_template_kwargs.dump())
                                                                    : ordered_json::object();
    if (const json* k = field(body, "chat_template_kwargs")) {
      if (!k->is_object()) return wrong_type("chat_template_kwargs", "an object", *k);
      for (const auto& [key, v] : k->items()) kwargs[key] = ordered_json::parse(v.dump());
    }
    auto agent = read_agent_fields(body, model);
    if (auto* e = std::get_if<ApiError>(&agent)) return *e;
    const AgentRequest& a = std::get<AgentRequest>(agent);
    auto text = chat_prompt(body, model, a, kwargs);
    if (auto* e = std::get_if<ApiError>(&text)) return *e;
    const std::string& rendered = std::get<std::string>(text);
    r.job.prompt = model.encode(rendered);
    r.output.tools = a.format;
    r.output.starts_in_reasoning = model.reasoning != ModelInfo::Reasoning::kOff && text::prompt_opens_reasoning(rendered);
    r.output.reasoning = model.reasoning == ModelInfo::Reasoning::kOn ||
                         (model.reasoning == ModelInfo::Reasoning::kAuto && (model.template_thinks || r.output.starts_in_reasoning));
    if (a.grammar) r.job.constraint = grammar_constraint(*a.grammar, model.vocabulary, model.eos_ids);
  } else {
    auto prompt = completion_prompt(body, model);
    if (auto* e = std::get_if<ApiError>(&prompt)) return *e;
    r.job.prompt = std::move(std::get<std::vector<int32_t>>(prompt));
  }
  const int64_t n_prompt = static_cast<int64_t>(r.job.prompt.size());
  if (n_prompt >= model.context) {
    return invalid(chat ? "messages" : "prompt",
                   fmt::format("this model's context is {} tokens; the prompt has {}, which leaves no room to answer",
                               model.context, n_prompt),
                   "context_length_exceeded");
  }
  // the answer may use what the prompt leaves of the context; a larger request is cut to fit
  const int64_t room = model.context - n_prompt;
  const std::optional<int64_t> asked = max_completion_tokens ? max_completion_tokens : max_tokens;
  r.job.max_tokens = std::min(asked.value_or(room), room);
  r.job.stop_tokens = model.eos_ids;
  return r;
}

}  // namespace dsv3::server
