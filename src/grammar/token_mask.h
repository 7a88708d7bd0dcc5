// Which tokens may come next under a grammar: a walk of the vocabulary trie
// that advances the matcher byte by byte and skips every subtree whose
// prefix it refuses. Inside a string, the tokens of plain text come from a
// precomputed mask and only the others are walked; masks of states seen
// before come from a small cache. Nothing is allocated per token once warm.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "grammar/matcher.h"
#include "grammar/token_trie.h"

namespace dsv3::grammar {

class TokenMasker {
 public:
  TokenMasker(const Matcher& matcher, const TokenVocabulary& vocab);

  // Overwrites allowed (vocab.words() words) with the tokens that may follow
  // state s. remaining: tokens the generation may still take, this one
  // included; when it runs short, only tokens that leave the text closable
  // in what is left are allowed. Returns whether the text may end here.
  bool fill(const State& s, int64_t remaining, std::span<uint64_t> allowed);

 private:
  void walk(const TokenTrie& trie, const State& s, int64_t budget, std::span<uint64_t> allowed);
  // The plain-text tokens allowed at s, or -1 when s is not inside free string text.
  int64_t plain_room(const State& s) const;

  const Matcher& m_;
  const TokenVocabulary& v_;
  std::vector<State> depth_;  // the state after each byte of the walk's current path
  int64_t slack_;             // a budget this far past min_close cannot bind
  struct Entry {
    bool valid = false, end = false;
    uint64_t hash = 0;
    State state;
    std::vector<uint64_t> mask;
  };
  std::array<Entry, 16> cache_;
};

}  // namespace dsv3::grammar
