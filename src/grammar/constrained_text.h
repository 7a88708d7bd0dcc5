// One generation's text held to a grammar, token by token: which tokens may
// come next, and the text growing by the one drawn.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "grammar/grammar.h"
#include "grammar/matcher.h"
#include "grammar/token_mask.h"
#include "grammar/token_trie.h"

namespace dsv3::grammar {

class ConstrainedText {
 public:
  ConstrainedText(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocab);

  // See TokenMasker::fill. Returns whether the text may end here.
  bool fill(std::span<uint64_t> allowed, int64_t remaining);
  // The token's bytes join the text; false if the grammar refuses them (the
  // text is then left as it was).
  bool accept(int32_t token);
  bool accept_bytes(std::string_view bytes);
  bool accepting() const { return matcher_.accepting(state_); }
  // Nothing may follow: every way the text matched has closed its last value.
  bool complete() const { return !state_.empty() && state_.frames.empty(); }
  std::string describe() const;  // the state, for debugging

 private:
  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const TokenVocabulary> vocab_;
  Matcher matcher_;
  TokenMasker masker_;
  State state_, next_, scratch_;
};

}  // namespace dsv3::grammar
