// A Hugging Face tokenizer.json with a byte-level BPE model: added/special
// tokens matched as whole strings, a sequence of regex Split pre-tokenizers,
// the ByteLevel alphabet, BPE merges. Nothing about DeepSeek is hard-coded.
//
// Input text that is not valid UTF-8 is repaired first: each invalid
// sequence becomes U+FFFD (as Python's errors="replace"), then encoded.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "text/bpe.h"
#include "text/regex.h"

namespace dsv3::text {

// A vocabulary as GGUF files list it (llama.cpp's tokenizer.ggml.* keys).
struct VocabList {
  std::vector<std::string> tokens;  // id order; byte-level symbols, or the text of added tokens
  std::vector<int32_t> types;       // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
  std::vector<std::string> merges;  // "left right"
  std::string pre;                  // the pre-tokenizer's name, e.g. "deepseek-v3"
};

class Tokenizer {
 public:
  static Result<std::unique_ptr<Tokenizer>> load(const std::string& tokenizer_json_path);
  static Result<std::unique_ptr<Tokenizer>> parse(std::string_view json_text, const std::string& where);
  // Control and user-defined tokens become added tokens (control ones
  // special), the pre-tokenizer is the one the name stands for.
  static Result<std::unique_ptr<Tokenizer>> from_vocab_list(const VocabList& v, const std::string& where);

  // Token ids of text; no BOS is added.
  std::vector<int32_t> encode(std::string_view text) const;
  // Text of ids, invalid UTF-8 replaced; skip_special drops special tokens.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;
  // The raw bytes one token stands for (may be part of a UTF-8 character).
  const std::string& token_bytes(int32_t id) const;

  // Drops the per-piece memo (benchmarks measure cold encoding with it).
  void clear_cache() const;

  int32_t vocab_size() const { return static_cast<int32_t>(bytes_.size()); }
  bool is_special(int32_t id) const;
  std::optional<int32_t> token_id(std::string_view content) const;  // vocab or added token

 private:
  struct Added {
    std::string content;
    int32_t id;
    bool special;
  };
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  // Longest added token starting at text[i], or nullptr.
  const Added* match_added(std::string_view text, std::size_t i) const;

  Bpe bpe_;
  std::vector<Regex> splits_;          // applied in order, matches kept isolated
  bool byte_level_ = true;
  std::vector<Added> added_;
  std::unordered_map<std::string, int32_t> added_index_;  // content -> index in added_
  bool first_byte_[256] = {};          // quick filter for added-token starts
  std::size_t longest_added_ = 0;
  std::vector<std::string> bytes_;     // id -> bytes
  std::vector<uint8_t> special_;       // id -> is special

  // piece -> ids; natural text repeats words, so this is most of the speed
  mutable std::mutex cache_mu_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

}  // namespace dsv3::text
