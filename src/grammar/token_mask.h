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
  // The mask by the fastest way the state allows; check: the budget (-1: none).
  void compute(const State& s, int64_t close, int64_t check, std::span<uint64_t> allowed);
  void walk(const TokenTrie& trie, const State& s, int64_t budget, std::span<uint64_t> allowed);
  // The plain-text tokens allowed at s, or -1 when s is not inside free string text.
  int64_t plain_room(const State& s) const;
  // Inside a pattern-held string: the printable-ASCII plain tokens its DFA
  // takes from state q (a walk of the DFA alone, kept per state).
  std::span<const uint64_t> pattern_tokens(int32_t regex, int32_t q);

  const Matcher& m_;
  const TokenVocabulary& v_;
  std::vector<State> depth_;  // the state after each byte of the walk's current path
  int64_t slack_;             // a budget this far past min_close cannot bind
  bool bound_ = false;  // the budget refused a token the grammar took
  struct Entry {
    bool valid = false, end = false;
    bool uncut = false;  // no token was refused for the budget: good for any larger one
    int64_t budget = 0;
    uint64_t hash = 0;
    State state;
    std::vector<uint64_t> mask;
  };
  std::array<Entry, 16> cache_;
  struct PatternEntry {
    int32_t regex = -1, q = -1;
    std::vector<uint64_t> mask;
  };
  std::vector<PatternEntry> pattern_cache_;  // at most kPatternStates
  std::size_t pattern_next_ = 0;             // the entry to replace next when full
  std::vector<int32_t> dfa_path_;            // DFA state per depth of the walk
  static constexpr std::size_t kPatternStates = 64;
};

}  // namespace dsv3::grammar
