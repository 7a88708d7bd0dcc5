#include "text/chat_template.h"
#include "base/read_file.h"

#include <filesystem>

#include "jinja/jinja.h"

namespace dsv3::text {

namespace {
// bos_token / eos_token: a string, or an AddedToken object {"content": ...}.
std::string token_text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) return (*it)["content"].get<std::string>();
  return "";
}
}  // namespace

ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;

Result<ChatTemplate> ChatTemplate::load(const std::string& model_dir) {
  const auto path = std::filesystem::path(model_dir) / "tokenizer_config.json";
  auto text = read_regular_file(path.string());
  if (!text) return make_error("{} (the chat template lives there)", text.error().message);
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("{}: not valid JSON", path.string());
  auto ct = j.find("chat_template");
  std::string source;
  if (ct != j.end() && ct->is_string()) {
    source = ct->get<std::string>();
  } else if (ct != j.end() && ct->is_array()) {
    for (const auto& t : *ct)
      if (t.is_object() && t.value("name", "") == "default" && t.contains("template") && t["template"].is_string())
        source = t["template"].get<std::string>();
  }
  if (source.empty()) return make_error("{}: no chat_template (use --raw to skip it)", path.string());
  auto r = from_source(source, token_text(j, "bos_token"), token_text(j, "eos_token"));
  if (!r) return make_error("{}: chat_template: {}", path.string(), r.error().message);
  return r;
}

Result<ChatTemplate> ChatTemplate::from_source(const std::string& source, std::string bos, std::string eos) {
  DSV3_ASSIGN_OR_RETURN(jinja::Template t, jinja::Template::parse(source));
  ChatTemplate c;
  c.template_ = std::make_unique<jinja::Template>(std::move(t));
  c.source_ = source;
  c.bos_ = std::move(bos);
  c.eos_ = std::move(eos);
  return c;
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                         const nlohmann::ordered_json& tools,
                                         const nlohmann::ordered_json& kwargs) const {
  nlohmann::ordered_json ctx = nlohmann::ordered_json::object();
  if (kwargs.is_object())
    for (const auto& [k, v] : kwargs.items()) ctx[k] = v;
  ctx["messages"] = messages;
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = bos_;
  ctx["eos_token"] = eos_;
  if (!tools.is_null()) ctx["tools"] = tools;
  return template_->render(ctx);
}

}  // namespace dsv3::text
