#include "text/tokenizer.h"
#include "base/read_file.h"

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>

#include "text/byte_level.h"
#include "text/utf8.h"

namespace dsv3::text {

using nlohmann::json;

namespace {
// GPT-2's pre-tokenizer, used by a ByteLevel pre-tokenizer with use_regex.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::size_t kCacheLimit = 1 << 18;
constexpr std::size_t kCacheMaxPiece = 256;
// Ids index dense per-id tables: one past this would allocate gigabytes for a
// single bad entry (the largest real vocabularies hold about a million).
constexpr int64_t kMaxTokenId = (int64_t{1} << 24) - 1;

Result<int32_t> parse_token_id(const json& v, const std::string& token, const std::string& where) {
  if (!v.is_number_integer()) return make_error("{}: token \"{}\" has id {}, not an integer", where, token, v.dump());
  const int64_t id = v.get<int64_t>();
  if (id < 0 || id > kMaxTokenId)
    return make_error("{}: token \"{}\" has id {}, outside [0, {}]", where, token, id, kMaxTokenId);
  return static_cast<int32_t>(id);
}
}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string& path) {
  DSV3_ASSIGN_OR_RETURN(std::string text, read_regular_file(path));
  return parse(text, path);
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::parse(std::string_view text, const std::string& where) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("{}: not valid JSON", where);
  auto t = std::make_unique<Tokenizer>();
  try {
    // model: byte-level BPE
    const json& m = j.at("model");
    const std::string type = m.value("type", "BPE");
    if (type != "BPE") return make_error("{}: model type \"{}\" is not supported (BPE)", where, type);
    if (m.value("byte_fallback", false)) return make_error("{}: BPE byte_fallback is not supported", where);
    std::unordered_map<std::string, int32_t> vocab;
    int32_t max_id = -1;
    const json& jv = m.at("vocab");
    if (!jv.is_object()) return make_error("{}: model.vocab must be an object of token: id", where);
    for (auto it = jv.begin(); it != jv.end(); ++it) {
      DSV3_ASSIGN_OR_RETURN(const int32_t id, parse_token_id(it.value(), it.key(), where));
      vocab.emplace(it.key(), id);
      max_id = std::max(max_id, id);
    }
    // no tokens: nothing could be encoded or decoded, and a model's logits
    // would index past the tables
    if (vocab.empty()) return make_error("{}: model.vocab is empty", where);
    std::vector<std::pair<std::string, std::string>> merges;
    for (const auto& mg : m.at("merges")) {
      if (mg.is_string()) {
        const std::string s = mg.get<std::string>();
        const auto sp = s.find(' ', 1);  // the left part may itself be a space symbol
        if (sp == std::string::npos) return make_error("{}: merge \"{}\" is not two tokens", where, s);
        merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else if (mg.is_array() && mg.size() == 2) {
        merges.emplace_back(mg[0].get<std::string>(), mg[1].get<std::string>());
      } else {
        return make_error("{}: merge {} is not a pair", where, mg.dump());
      }
    }
    auto bpe = Bpe::build(std::move(vocab), merges);
    if (!bpe) return make_error("{}: {}", where, bpe.error().message);
    t->bpe_ = std::move(bpe).value();

    // normalizer: only the empty one (DeepSeek, GPT-2 style) is supported
    if (auto n = j.find("normalizer"); n != j.end() && !n->is_null()) {
      const bool empty_seq = n->value("type", "") == "Sequence" && n->value("normalizers", json::array()).empty();
      if (!empty_seq) return make_error("{}: normalizer {} is not supported", where, n->value("type", "?"));
    }

    // pre-tokenizers
    std::vector<json> pres;
    if (auto p = j.find("pre_tokenizer"); p != j.end() && !p->is_null()) {
      if (p->value("type", "") == "Sequence")
        for (const auto& x : p->at("pretokenizers")) pres.push_back(x);
      else
        pres.push_back(*p);
    }
    t->byte_level_ = false;
    for (const auto& p : pres) {
      const std::string pt = p.value("type", "");
      if (pt == "Split") {
        if (p.value("behavior", "") != "Isolated" || p.value("invert", false))
          return make_error("{}: Split pre-tokenizer behavior \"{}\" is not supported (Isolated)", where,
                            p.value("behavior", ""));
        const json& pat = p.at("pattern");
        std::string re;
        if (pat.contains("Regex")) {
          re = pat.at("Regex").get<std::string>();
        } else {
          // a literal string: quote it for PCRE2
          re = "\\Q" + pat.at("String").get<std::string>() + "\\E";
        }
        auto r = Regex::compile(re);
        if (!r) return make_error("{}: {}", where, r.error().message);
        t->splits_.push_back(std::move(r).value());
      } else if (pt == "ByteLevel") {
        t->byte_level_ = true;
        if (p.value("add_prefix_space", false))
          return make_error("{}: ByteLevel add_prefix_space is not supported", where);
        if (p.value("use_regex", true)) t->splits_.push_back(std::move(Regex::compile(kGpt2Pattern)).value());
      } else {
        return make_error("{}: pre-tokenizer \"{}\" is not supported", where, pt);
      }
    }
    if (!t->byte_level_) return make_error("{}: only byte-level BPE tokenizers are supported", where);

    // added tokens: matched whole before pre-tokenization, longest first
    for (const auto& a : j.value("added_tokens", json::array())) {
      const std::string content = a.at("content").get<std::string>();
      if (content.empty()) continue;
      DSV3_ASSIGN_OR_RETURN(const int32_t id, parse_token_id(a.at("id"), content, where));
      Added ad{content, id, a.value("special", false)};
      max_id = std::max(max_id, ad.id);
      t->added_index_[ad.content] = static_cast<int32_t>(t->added_.size());
      t->first_byte_[static_cast<uint8_t>(ad.content[0])] = true;
      t->longest_added_ = std::max(t->longest_added_, ad.content.size());
      t->added_.push_back(std::move(ad));
    }
    std::stable_sort(t->added_.begin(), t->added_.end(),
                     [](const Added& a, const Added& b) { return a.content.size() > b.content.size(); });
    for (std::size_t i = 0; i < t->added_.size(); ++i) t->added_index_[t->added_[i].content] = static_cast<int32_t>(i);

    // id -> bytes; a token whose text is all byte symbols decodes through them
    t->bytes_.assign(static_cast<std::size_t>(max_id + 1), std::string());
    t->special_.assign(static_cast<std::size_t>(max_id + 1), 0);
    for (const auto& [tok, id] : t->bpe_.vocab()) {
      auto b = symbols_to_bytes(tok);
      t->bytes_[id] = b ? *b : tok;
    }
    for (const auto& a : t->added_) {
      auto b = symbols_to_bytes(a.content);
      t->bytes_[a.id] = b ? *b : a.content;
      t->special_[a.id] = a.special;
    }
  } catch (const json::exception& e) {
    return make_error("{}: unexpected tokenizer.json structure: {}", where, e.what());
  }
  return t;
}

const Tokenizer::Added* Tokenizer::match_added(std::string_view text, std::size_t i) const {
  if (!first_byte_[static_cast<uint8_t>(text[i])]) return nullptr;
  for (const Added& a : added_)  // longest first
    if (text.compare(i, a.content.size(), a.content) == 0) return &a;
  return nullptr;
}

std::vector<int32_t> Tokenizer::encode(std::string_view input) const {
  std::string repaired;
  if (!is_valid_utf8(input)) {
    repaired = utf8_lossy(input);
    input = repaired;
  }
  std::vector<int32_t> out;
  out.reserve(input.size() / 3 + 1);
  std::size_t start = 0;
  for (std::size_t i = 0; i < input.size();) {
    if (const Added* a = match_added(input, i)) {
      encode_plain(input.substr(start, i - start), out);
      out.push_back(a->id);
      i += a->content.size();
      start = i;
    } else {
      ++i;
    }
  }
  encode_plain(input.substr(start), out);
  return out;
}

void Tokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  // pieces as [begin, end) into text; each Split keeps matches and the gaps between
  std::vector<std::pair<std::size_t, std::size_t>> pieces{{0, text.size()}}, next;
  for (const Regex& re : splits_) {
    next.clear();
    for (const auto& range : pieces) {
      const std::size_t pb = range.first, pe = range.second;  // named: clang 14 cannot capture bindings
      std::string_view piece = text.substr(pb, pe - pb);
      std::size_t at = 0;
      re.for_each_match(piece, [&](std::size_t b, std::size_t e) {
        if (b > at) next.emplace_back(pb + at, pb + b);
        if (e > b) next.emplace_back(pb + b, pb + e);
        at = e;
      });
      if (at < piece.size()) next.emplace_back(pb + at, pe);
    }
    pieces.swap(next);
  }
  for (auto [pb, pe] : pieces) encode_piece(text.substr(pb, pe - pb), out);
}

void Tokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  const bool cacheable = piece.size() <= kCacheMaxPiece;
  std::string key;
  if (cacheable) {
    key.assign(piece);
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const std::size_t before = out.size();
  bpe_.encode_symbols(bytes_to_symbols(piece), out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheLimit) cache_.clear();
    cache_.emplace(std::move(key), std::vector<int32_t>(out.begin() + static_cast<std::ptrdiff_t>(before), out.end()));
  }
}

void Tokenizer::clear_cache() const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  cache_.clear();
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  static const std::string empty;
  if (id < 0 || id >= vocab_size()) return empty;
  return bytes_[id];
}

bool Tokenizer::is_special(int32_t id) const { return id >= 0 && id < vocab_size() && special_[id]; }

std::optional<int32_t> Tokenizer::token_id(std::string_view content) const {
  auto it = added_index_.find(std::string(content));
  if (it != added_index_.end()) return added_[it->second].id;
  return bpe_.id_of(bytes_to_symbols(content));
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (skip_special && is_special(id)) continue;
    bytes += token_bytes(id);
  }
  return utf8_lossy(bytes);
}

}  // namespace dsv3::text
