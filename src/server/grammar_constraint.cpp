#include "server/grammar_constraint.h"

#include <algorithm>

namespace dsv3::server {

GrammarConstraint::GrammarConstraint(const GrammarSpec& spec, std::shared_ptr<const grammar::TokenVocabulary> vocab,
                                     std::vector<int32_t> stop_tokens)
    : text_(spec.grammar, std::move(vocab)), stops_(std::move(stop_tokens)), trigger_(spec.trigger), active_(spec.trigger < 0) {}

bool GrammarConstraint::allowed(std::span<uint64_t> bits, int64_t remaining) {
  if (!active_) return false;
  const bool may_end = broken_ || text_.fill(bits, remaining);
  const bool none = std::all_of(bits.begin(), bits.end(), [](uint64_t w) { return w == 0; });
  if (may_end || none)  // a dead end (a grammar refused a token it allowed: never) ends the answer
    for (int32_t t : stops_)
      if (t >= 0 && static_cast<std::size_t>(t) / 64 < bits.size()) bits[static_cast<std::size_t>(t) / 64] |= uint64_t{1} << (t % 64);
  return true;
}

void GrammarConstraint::accept(int32_t token) {
  if (!active_) {
    active_ = token == trigger_;
    return;
  }
  if (std::find(stops_.begin(), stops_.end(), token) != stops_.end()) return;
  if (!broken_ && !text_.accept(token)) broken_ = true;  // only if the mask was not applied
}

ConstraintFactory grammar_constraint(GrammarSpec spec, std::shared_ptr<const grammar::TokenVocabulary> vocab,
                                     std::vector<int32_t> stop_tokens) {
  return [spec = std::move(spec), vocab = std::move(vocab), stops = std::move(stop_tokens)] {
    return std::make_unique<GrammarConstraint>(spec, vocab, stops);
  };
}

}  // namespace dsv3::server
