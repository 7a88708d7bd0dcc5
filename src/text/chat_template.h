// The model's own chat template (the Jinja source in tokenizer_config.json)
// with the special-token strings it refers to.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace dsv3::jinja {
class Template;
}

namespace dsv3::text {

class ChatTemplate {
 public:
  // Reads DIR/tokenizer_config.json: chat_template (a string, or a list of
  // {name, template} where "default" wins), bos_token and eos_token.
  static Result<ChatTemplate> load(const std::string& model_dir);
  static Result<ChatTemplate> from_source(const std::string& source, std::string bos, std::string eos);
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;
  ~ChatTemplate();

  // messages: [{role, content, ...}]; tools: optional list (null for none).
  // Ordered JSON keeps the caller's key order, which tojson shows (tool schemas).
  // kwargs: more variables for the template (an object, e.g. {"thinking": true}); they
  // cannot replace messages, tools or the special tokens.
  Result<std::string> render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                             const nlohmann::ordered_json& tools = nullptr,
                             const nlohmann::ordered_json& kwargs = nullptr) const;
  const std::string& source() const { return source_; }
  const std::string& bos_token() const { return bos_; }
  const std::string& eos_token() const { return eos_; }

 private:
  ChatTemplate() = default;
  std::unique_ptr<jinja::Template> template_;
  std::string bos_, eos_, source_;
};

}  // namespace dsv3::text
