// The vocabulary as a trie in preorder: a node's subtree is the run of
// nodes after it up to subtree_end, so a walk that finds a prefix dead skips
// every token under it in one jump. Built once per model; shared by all
// constrained generations.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dsv3::grammar {

class TokenTrie {
 public:
  TokenTrie() = default;
  // tokens[id]: the bytes token id adds to the text. Empty ones are left out.
  TokenTrie(const std::vector<std::string>& tokens, const std::vector<bool>& include);

  std::size_t size() const { return byte_.size(); }
  uint8_t byte(std::size_t i) const { return byte_[i]; }
  uint8_t depth(std::size_t i) const { return depth_[i]; }  // 1 for the root's children
  uint32_t subtree_end(std::size_t i) const { return end_[i]; }
  std::span<const int32_t> tokens_at(std::size_t i) const {
    return {ids_.data() + tok_begin_[i], ids_.data() + tok_begin_[i + 1]};
  }
  int max_depth() const { return max_depth_; }

 private:
  std::vector<uint8_t> byte_, depth_;
  std::vector<uint32_t> end_, tok_begin_;
  std::vector<int32_t> ids_;
  int max_depth_ = 0;
};

// What a constrained generation needs of the vocabulary: the trie of every
// token, and for strings, the tokens of plain string text (no quote,
// backslash or control byte; whole UTF-8) by their length in code points, so
// a string's next token needs a walk only over the others.
class TokenVocabulary {
 public:
  static constexpr int kMaxPlain = 48;  // longer plain tokens count as others
  // tokens[id]: bytes; excluded ids (stop and control tokens) are never allowed by the grammar.
  TokenVocabulary(const std::vector<std::string>& tokens, const std::vector<int32_t>& excluded);

  int64_t vocab_size() const { return vocab_; }
  std::size_t words() const { return static_cast<std::size_t>((vocab_ + 63) / 64); }
  const TokenTrie& all() const { return all_; }
  const TokenTrie& not_plain() const { return not_plain_; }
  // The plain tokens that are all printable ASCII (what a pattern can take).
  const TokenTrie& ascii_plain() const { return ascii_plain_; }
  // Bits of the plain tokens of 1..k code points (k clamped to kMaxPlain).
  std::span<const uint64_t> plain_up_to(int64_t k) const;
  int max_token_bytes() const { return all_.max_depth(); }
  const std::string& token(int32_t id) const { return tokens_[static_cast<std::size_t>(id)]; }
  // Tokens in the greedy (longest first) split of text: what writing it
  // takes at most, and one fewer after its first token. Bytes no token
  // holds count one each.
  int64_t greedy_tokens(std::string_view text) const;

 private:
  int64_t vocab_ = 0;
  std::vector<std::string> tokens_;
  TokenTrie all_, not_plain_, ascii_plain_;
  std::vector<uint64_t> plain_;  // (kMaxPlain + 1) masks of words() each
};

}  // namespace dsv3::grammar
