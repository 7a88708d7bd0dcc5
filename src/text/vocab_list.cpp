// Tokenizer::from_vocab_list: a GGUF vocabulary turned into the tokenizer.json
// document it came from, so one parser checks and builds both.
#include <nlohmann/json.hpp>

#include "text/tokenizer.h"

namespace dsv3::text {

namespace {
using nlohmann::json;

// The pre-tokenizers llama.cpp names in tokenizer.ggml.pre, as the
// tokenizer.json of the model they come from writes them.
json pre_tokenizer(const std::string& name) {
  if (name == "deepseek-v3") {
    const auto split = [](const char* re) {
      return json{{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}};
    };
    return json{{"type", "Sequence"},
                {"pretokenizers",
                 {split("\\p{N}{1,3}"), split("[一-龥぀-ゟ゠-ヿ]+"),
                  split("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+|"
                        " ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
                  json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  }
  return nullptr;
}
}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::from_vocab_list(const VocabList& v, const std::string& where) {
  const json pre = pre_tokenizer(v.pre);
  if (pre.is_null()) return make_error("{}: pre-tokenizer \"{}\" is not supported (deepseek-v3)", where, v.pre);
  if (v.tokens.empty()) return make_error("{}: the vocabulary is empty", where);
  if (!v.types.empty() && v.types.size() != v.tokens.size())
    return make_error("{}: {} token types for {} tokens", where, v.types.size(), v.tokens.size());
  json vocab = json::object(), added = json::array();
  for (std::size_t id = 0; id < v.tokens.size(); ++id) {
    const int32_t type = v.types.empty() ? 1 : v.types[id];
    if (type == 3 || type == 4)
      added.push_back({{"id", id}, {"content", v.tokens[id]}, {"special", type == 3}});
    else
      vocab.emplace(v.tokens[id], id);  // a repeated string keeps its first id
  }
  json merges = json::array();
  for (const std::string& m : v.merges) merges.push_back(m);
  const json doc{{"added_tokens", std::move(added)},
                 {"normalizer", nullptr},
                 {"pre_tokenizer", pre},
                 {"model", {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)}}},
                 {"decoder", {{"type", "ByteLevel"}}}};
  std::string text;
  try {
    text = doc.dump();
  } catch (const json::exception&) {  // GGUF strings are bytes, JSON text is UTF-8
    return make_error("{}: a token or merge is not valid UTF-8", where);
  }
  return parse(text, where);
}

}  // namespace dsv3::text
