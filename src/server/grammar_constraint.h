// A grammar as the engine's TokenConstraint: the grammar's tokens, and the
// stop tokens where the text may end (or when nothing else can come). With a
// trigger token, any token may come until that one; the grammar holds after it
// (tool calls in an answer that may also be prose).
#pragma once
#include <memory>
#include <vector>

#include "engine/token_constraint.h"
#include "grammar/constrained_text.h"

namespace dsv3::server {

struct GrammarSpec {
  std::shared_ptr<const grammar::Grammar> grammar;
  int32_t trigger = -1;
};

class GrammarConstraint final : public TokenConstraint {
 public:
  GrammarConstraint(const GrammarSpec& spec, std::shared_ptr<const grammar::TokenVocabulary> vocab,
                    std::vector<int32_t> stop_tokens);
  bool allowed(std::span<uint64_t> bits, int64_t remaining) override;
  void accept(int32_t token) override;
  bool complete() const override { return active_ && !broken_ && text_.complete(); }

 private:
  grammar::ConstrainedText text_;
  std::vector<int32_t> stops_;
  int32_t trigger_;
  bool active_, broken_ = false;
};

// A factory for Job::constraint (each sample its own).
ConstraintFactory grammar_constraint(GrammarSpec spec, std::shared_ptr<const grammar::TokenVocabulary> vocab,
                                     std::vector<int32_t> stop_tokens);

}  // namespace dsv3::server
