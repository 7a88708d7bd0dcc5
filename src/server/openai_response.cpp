#include "server/openai_response.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "server/random_id.h"

namespace dsv3::server {

using nlohmann::json;

std::string_view finish_name(FinishReason r) { return finish_reason_name(r); }

namespace {

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

}  // namespace

ResponseBuilder::ResponseBuilder(Endpoint endpoint, std::string model_id, const ModelInfo& model, text::OutputFormat output,
                                 int32_t n)
    : endpoint_(endpoint),
      model_id_(std::move(model_id)),
      id_(random_id(endpoint == Endpoint::kChat ? "chatcmpl-" : "cmpl-")),
      created_(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()),
      model_(model),
      output_(output),
      streams_(static_cast<std::size_t>(std::max<int32_t>(n, 1)), ChoiceStream(output)) {}

std::string_view ResponseBuilder::chat_finish(FinishReason r, bool called) const {
  return called && r == FinishReason::kStop ? std::string_view("tool_calls") : finish_name(r);
}

json ResponseBuilder::delta_json(const text::OutputDelta& d, ChoiceStream& cs) {
  json delta = json::object();
  if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
  if (!d.content.empty()) delta["content"] = d.content;
  if (!d.tool_calls.empty()) {
    json calls = json::array();
    for (const text::ToolCallDelta& c : d.tool_calls) {
      json call = {{"index", c.index}};
      if (static_cast<std::size_t>(c.index) >= cs.call_ids.size()) {
        cs.call_ids.resize(static_cast<std::size_t>(c.index) + 1);
      }
      json fn = json::object();
      if (!c.name.empty()) {  // the call's first delta: its id, type and name
        cs.call_ids[static_cast<std::size_t>(c.index)] = random_id("call_");
        call["id"] = cs.call_ids[static_cast<std::size_t>(c.index)];
        call["type"] = "function";
        fn["name"] = c.name;
      }
      fn["arguments"] = c.arguments;
      call["function"] = std::move(fn);
      calls.push_back(std::move(call));
    }
    delta["tool_calls"] = std::move(calls);
  }
  return delta;
}

json ResponseBuilder::base(const char* object) const {
  return {{"id", id_}, {"object", object}, {"created", created_}, {"model", model_id_}, {"system_fingerprint", "dsv3"}};
}

json ResponseBuilder::usage(const JobUsage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_prompt_tokens}}}};
}

json ResponseBuilder::logprobs_json(std::span<const TokenLogprob> lp, int64_t* text_offset) const {
  auto text_of = [&](int32_t id) { return model_.token_text ? model_.token_text(id) : std::string(); };
  if (endpoint_ == Endpoint::kChat) {
    json content = json::array();
    for (const TokenLogprob& t : lp) {
      const std::string s = text_of(t.id);
      json top = json::array();
      for (const auto& [id, l] : t.top) {
        const std::string ts = text_of(id);
        top.push_back({{"token", ts}, {"logprob", l}, {"bytes", bytes_of(ts)}});
      }
      content.push_back({{"token", s}, {"logprob", t.logprob}, {"bytes", bytes_of(s)}, {"top_logprobs", std::move(top)}});
    }
    return {{"content", std::move(content)}};
  }
  json tokens = json::array(), logprobs = json::array(), tops = json::array(), offsets = json::array();
  for (const TokenLogprob& t : lp) {
    const std::string s = text_of(t.id);
    tokens.push_back(s);
    logprobs.push_back(t.logprob);
    json top = json::object();
    for (const auto& [id, l] : t.top) top[text_of(id)] = l;
    tops.push_back(std::move(top));
    offsets.push_back(*text_offset);
    *text_offset += static_cast<int64_t>(s.size());
  }
  return {{"tokens", std::move(tokens)}, {"token_logprobs", std::move(logprobs)}, {"top_logprobs", std::move(tops)},
          {"text_offset", std::move(offsets)}};
}

json ResponseBuilder::full(std::string_view text, FinishReason finish, const JobUsage& u,
                           std::span<const TokenLogprob> lp, bool want_logprobs) const {
  const ChoiceResult one{std::string(text), finish, std::vector<TokenLogprob>(lp.begin(), lp.end())};
  return full(std::span<const ChoiceResult>(&one, 1), u, want_logprobs);
}

json ResponseBuilder::full(std::span<const ChoiceResult> choices, const JobUsage& u, bool want_logprobs) const {
  json r = base(endpoint_ == Endpoint::kChat ? "chat.completion" : "text_completion");
  json list = json::array();
  for (std::size_t i = 0; i < choices.size(); ++i) list.push_back(choice_json(static_cast<int32_t>(i), choices[i], want_logprobs));
  r["choices"] = std::move(list);
  r["usage"] = usage(u);
  return r;
}

json ResponseBuilder::choice_json(int32_t index, const ChoiceResult& c, bool want_logprobs) const {
  const std::string_view text = c.text;
  const FinishReason finish = c.finish;
  const std::span<const TokenLogprob> lp = c.logprobs;
  int64_t offset = 0;
  json choice = {{"index", index}};
  bool called = false;
  if (endpoint_ == Endpoint::kChat) {
    const text::AssistantOutput out = text::parse_assistant_output(text, output_);
    json message = {{"role", "assistant"}, {"content", out.content}};
    if (!out.reasoning.empty()) message["reasoning_content"] = out.reasoning;
    if (!out.tool_calls.empty()) {
      called = true;
      json calls = json::array();
      for (const text::ToolCall& c : out.tool_calls)
        calls.push_back({{"id", random_id("call_")}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
      message["tool_calls"] = std::move(calls);
      if (out.content.empty()) message["content"] = nullptr;
    }
    choice["message"] = std::move(message);
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = want_logprobs ? logprobs_json(lp, &offset) : json(nullptr);
  choice["finish_reason"] = endpoint_ == Endpoint::kChat ? chat_finish(finish, called) : finish_name(finish);
  return choice;
}

json ResponseBuilder::role_chunk(int32_t index) const {
  json r = base("chat.completion.chunk");
  r["choices"] = json::array(
      {{{"index", index}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
  return r;
}

json ResponseBuilder::chunk(std::string_view text, std::span<const TokenLogprob> lp, bool want_logprobs,
                            const FinishReason* finish, int32_t index) {
  ChoiceStream& cs = streams_.at(static_cast<std::size_t>(index));
  json choice = {{"index", index}};
  if (endpoint_ == Endpoint::kChat) {
    text::OutputDelta d = cs.parser.feed(text);
    if (finish) {
      text::OutputDelta rest = cs.parser.finish();
      d.reasoning += rest.reasoning;
      d.content += rest.content;
      d.tool_calls.insert(d.tool_calls.end(), rest.tool_calls.begin(), rest.tool_calls.end());
    }
    choice["delta"] = delta_json(d, cs);
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = want_logprobs && !lp.empty() ? logprobs_json(lp, &cs.text_offset) : json(nullptr);
  if (!finish) choice["finish_reason"] = nullptr;
  else if (endpoint_ == Endpoint::kChat) choice["finish_reason"] = chat_finish(*finish, cs.parser.complete_tool_calls() > 0);
  else choice["finish_reason"] = finish_name(*finish);
  json r = base(endpoint_ == Endpoint::kChat ? "chat.completion.chunk" : "text_completion");
  r["choices"] = json::array({std::move(choice)});
  return r;
}

bool ResponseBuilder::says_nothing(const json& chunk) {
  const json& c = chunk["choices"][0];
  return c.contains("delta") && c["delta"].empty() && c["logprobs"].is_null() && c["finish_reason"].is_null();
}

json ResponseBuilder::usage_chunk(const JobUsage& u) const {
  json r = base(endpoint_ == Endpoint::kChat ? "chat.completion.chunk" : "text_completion");
  r["choices"] = json::array();
  r["usage"] = usage(u);
  return r;
}

}  // namespace dsv3::server
