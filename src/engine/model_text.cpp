#include "engine/model_text.h"

#include <filesystem>

#include "model/gguf.h"
#include "model/model.h"

namespace dsv3 {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Result<std::vector<std::string>> strings(const GgufFile& f, const std::string& key, bool required) {
  std::vector<std::string> out;
  const json* v = f.find_key(key);
  if (v == nullptr) {
    if (required) return make_error("{}: missing key {} (no tokenizer in this file)", f.name(), key);
    return out;
  }
  if (!v->is_array()) return make_error("{}: key {} must be an array of strings", f.name(), key);
  out.reserve(v->size());
  for (const json& s : *v) {
    if (!s.is_string()) return make_error("{}: key {} must be an array of strings", f.name(), key);
    out.push_back(s.get<std::string>());
  }
  return out;
}

// The text of a special token named by tokenizer.ggml.<which>_token_id ("" if none).
Result<std::string> special_token(const GgufFile& f, const std::vector<std::string>& tokens, const char* which) {
  const json* v = f.find_key(std::string("tokenizer.ggml.") + which + "_token_id");
  if (v == nullptr) return std::string();
  if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<uint64_t>() >= tokens.size())
    return make_error("{}: key tokenizer.ggml.{}_token_id ({}) is not a token of the vocabulary", f.name(), which,
                      gguf_value_text(*v));
  return tokens[v->get<std::size_t>()];
}

}  // namespace

Result<std::unique_ptr<text::Tokenizer>> load_tokenizer(const std::string& model) {
  if (!is_gguf_path(model)) {
    std::error_code ec;
    if (!fs::is_directory(model, ec)) return make_error("{}: model directory not found", model);
    return text::Tokenizer::load((fs::path(model) / "tokenizer.json").string());
  }
  DSV3_ASSIGN_OR_RETURN(GgufFile f, GgufFile::open(model));
  return gguf_tokenizer(f);
}

Result<std::unique_ptr<text::Tokenizer>> gguf_tokenizer(const GgufFile& f) {
  const std::string& model = f.name();
  const json* kind = f.find_key("tokenizer.ggml.model");
  if (kind == nullptr) return make_error("{}: missing key tokenizer.ggml.model (no tokenizer in this file)", model);
  if (*kind != "gpt2") return make_error("{}: tokenizer model {} is not supported (gpt2: byte-level BPE)", model, gguf_value_text(*kind));
  text::VocabList v;
  DSV3_ASSIGN_OR_RETURN(v.tokens, strings(f, "tokenizer.ggml.tokens", true));
  DSV3_ASSIGN_OR_RETURN(v.merges, strings(f, "tokenizer.ggml.merges", true));
  if (const json* types = f.find_key("tokenizer.ggml.token_type"); types != nullptr) {
    if (!types->is_array()) return make_error("{}: key tokenizer.ggml.token_type must be an array of integers", model);
    for (const json& t : *types) {
      if (!t.is_number_integer()) return make_error("{}: key tokenizer.ggml.token_type must be an array of integers", model);
      v.types.push_back(t.get<int32_t>());
    }
  }
  const json* pre = f.find_key("tokenizer.ggml.pre");
  v.pre = pre != nullptr && pre->is_string() ? pre->get<std::string>() : "default";
  return text::Tokenizer::from_vocab_list(v, model + " (GGUF tokenizer)");
}

Result<text::ChatTemplate> load_chat_template(const std::string& model) {
  if (!is_gguf_path(model)) return text::ChatTemplate::load(model);
  DSV3_ASSIGN_OR_RETURN(GgufFile f, GgufFile::open(model));
  return gguf_chat_template(f);
}

Result<text::ChatTemplate> gguf_chat_template(const GgufFile& f) {
  const std::string& model = f.name();
  const json* src = f.find_key("tokenizer.chat_template");
  if (src == nullptr || !src->is_string()) return make_error("{}: no chat template (key tokenizer.chat_template)", model);
  DSV3_ASSIGN_OR_RETURN(std::vector<std::string> tokens, strings(f, "tokenizer.ggml.tokens", true));
  DSV3_ASSIGN_OR_RETURN(std::string bos, special_token(f, tokens, "bos"));
  DSV3_ASSIGN_OR_RETURN(std::string eos, special_token(f, tokens, "eos"));
  return text::ChatTemplate::from_source(src->get<std::string>(), std::move(bos), std::move(eos));
}

Result<std::unique_ptr<text::Tokenizer>> load_tokenizer(const Model& model) {
  if (const GgufFile* f = model.checkpoint.gguf()) return gguf_tokenizer(*f);
  return load_tokenizer(model.checkpoint.dir());
}

Result<text::ChatTemplate> load_chat_template(const Model& model) {
  if (const GgufFile* f = model.checkpoint.gguf()) return gguf_chat_template(*f);
  return load_chat_template(model.checkpoint.dir());
}

bool has_tokenizer(const std::string& model) {
  std::error_code ec;
  if (is_gguf_path(model)) return true;
  return fs::exists(fs::path(model) / "tokenizer.json", ec);
}

}  // namespace dsv3
