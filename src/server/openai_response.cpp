#include "server/openai_response.h"

#include <fmt/format.h>

#include <chrono>
#include <mutex>
#include <random>

namespace dsv3::server {

using nlohmann::json;

std::string_view finish_name(FinishReason r) { return finish_reason_name(r); }

namespace {

std::string random_id(const char* prefix) {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  return fmt::format("{}{:016x}{:08x}", prefix, rng(), static_cast<uint32_t>(rng()));
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

}  // namespace

ResponseBuilder::ResponseBuilder(Endpoint endpoint, std::string model_id, const ModelInfo& model, text::OutputFormat output)
    : endpoint_(endpoint),
      model_id_(std::move(model_id)),
      id_(random_id(endpoint == Endpoint::kChat ? "chatcmpl-" : "cmpl-")),
      created_(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count()),
      model_(model),
      output_(output),
      parser_(output) {}

std::string_view ResponseBuilder::chat_finish(FinishReason r, bool called) const {
  return called && r == FinishReason::kStop ? std::string_view("tool_calls") : finish_name(r);
}

json ResponseBuilder::delta_json(const text::OutputDelta& d) {
  json delta = json::object();
  if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
  if (!d.content.empty()) delta["content"] = d.content;
  if (!d.tool_calls.empty()) {
    json calls = json::array();
    for (const text::ToolCallDelta& c : d.tool_calls) {
      json call = {{"index", c.index}};
      if (static_cast<std::size_t>(c.index) >= call_ids_.size()) {
        call_ids_.resize(static_cast<std::size_t>(c.index) + 1);
      }
      json fn = json::object();
      if (!c.name.empty()) {  // the call's first delta: its id, type and name
        call_ids_[static_cast<std::size_t>(c.index)] = random_id("call_");
        call["id"] = call_ids_[static_cast<std::size_t>(c.index)];
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
  int64_t offset = 0;
  json choice = {{"index", 0}};
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
  json r = base(endpoint_ == Endpoint::kChat ? "chat.completion" : "text_completion");
  r["choices"] = json::array({std::move(choice)});
  r["usage"] = usage(u);
  return r;
}

json ResponseBuilder::role_chunk() const {
  json r = base("chat.completion.chunk");
  r["choices"] = json::array(
      {{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
  return r;
}

json ResponseBuilder::chunk(std::string_view text, std::span<const TokenLogprob> lp, bool want_logprobs,
                            const FinishReason* finish) {
  json choice = {{"index", 0}};
  if (endpoint_ == Endpoint::kChat) {
    text::OutputDelta d = parser_.feed(text);
    if (finish) {
      text::OutputDelta rest = parser_.finish();
      d.reasoning += rest.reasoning;
      d.content += rest.content;
      d.tool_calls.insert(d.tool_calls.end(), rest.tool_calls.begin(), rest.tool_calls.end());
    }
    choice["delta"] = delta_json(d);
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = want_logprobs && !lp.empty() ? logprobs_json(lp, &text_offset_) : json(nullptr);
  if (!finish) choice["finish_reason"] = nullptr;
  else if (endpoint_ == Endpoint::kChat) choice["finish_reason"] = chat_finish(*finish, parser_.complete_tool_calls() > 0);
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
