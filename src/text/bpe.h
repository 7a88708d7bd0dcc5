// Byte-pair encoding over token ids: the merge ranks come from the tokenizer
// file; merging uses a priority queue so a long word costs O(n log n).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace dsv3::text {

class Bpe {
 public:
  // vocab: token text -> id; merges: pairs of token texts in rank order.
  static Result<Bpe> build(std::unordered_map<std::string, int32_t> vocab,
                           const std::vector<std::pair<std::string, std::string>>& merges);

  // Appends the ids of one pre-tokenized piece (given as byte-level symbols).
  void encode_symbols(std::string_view symbols, std::vector<int32_t>& out) const;

  const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }
  std::optional<int32_t> id_of(const std::string& token) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  static uint64_t key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  std::unordered_map<uint32_t, int32_t> char_ids_;  // single code point -> id
};

}  // namespace dsv3::text
