#include "server/served_text.h"

#include "grammar/token_trie.h"

namespace dsv3::server {

void attach_text(ModelInfo& info, const text::Tokenizer& tok, const text::ChatTemplate* chat) {
  info.encode = [&tok](std::string_view s) { return tok.encode(s); };
  info.token_text = [&tok](int32_t id) { return tok.token_bytes(id); };
  if (chat) {
    info.render_chat = [chat](const nlohmann::ordered_json& m, const nlohmann::ordered_json& tools,
                              const nlohmann::ordered_json& kwargs) { return chat->render(m, true, tools, kwargs); };
    const std::string& src = chat->source();
    info.template_renders_tools = src.find("tools") != std::string::npos;
    info.tool_format = text::tool_format_of_template(src);
    info.template_thinks = src.find("<think>") != std::string::npos || src.find("</think>") != std::string::npos;
  }
  // control tokens (BOS, padding, placeholders) and the stop tokens never
  // appear inside constrained text; the stop tokens end it
  std::vector<std::string> tokens;
  std::vector<int32_t> excluded(info.eos_ids.begin(), info.eos_ids.end());
  tokens.reserve(static_cast<std::size_t>(tok.vocab_size()));
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    tokens.push_back(tok.token_bytes(id));
    if (tok.is_special(id)) excluded.push_back(id);
  }
  tokens.resize(static_cast<std::size_t>(std::max<int64_t>(info.vocab_size, tok.vocab_size())));
  info.vocabulary = std::make_shared<grammar::TokenVocabulary>(tokens, excluded);
}

}  // namespace dsv3::server
