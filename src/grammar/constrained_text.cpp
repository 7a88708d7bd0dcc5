#include "grammar/constrained_text.h"

namespace dsv3::grammar {

ConstrainedText::ConstrainedText(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocab)
    : grammar_(std::move(grammar)), vocab_(std::move(vocab)), matcher_(*grammar_), masker_(matcher_, *vocab_) {
  matcher_.start(state_);
}

bool ConstrainedText::fill(std::span<uint64_t> allowed, int64_t remaining) { return masker_.fill(state_, remaining, allowed); }

bool ConstrainedText::accept(int32_t token) {
  if (token < 0 || token >= vocab_->vocab_size()) return false;
  return accept_bytes(vocab_->token(token));
}

bool ConstrainedText::accept_bytes(std::string_view bytes) {
  next_.frames.assign(state_.frames.begin(), state_.frames.end());
  next_.ends.assign(state_.ends.begin(), state_.ends.end());
  for (char c : bytes) {
    if (!matcher_.advance(next_, static_cast<uint8_t>(c), scratch_)) return false;
    std::swap(next_, scratch_);
  }
  std::swap(state_, next_);
  return true;
}

std::string ConstrainedText::describe() const {
  std::string s;
  for (int t = 0; t < state_.threads(); ++t) {
    const uint32_t from = t ? state_.ends[static_cast<std::size_t>(t - 1)] : 0;
    s += "[";
    for (uint32_t i = from; i < state_.ends[static_cast<std::size_t>(t)]; ++i) {
      const Frame& f = state_.frames[i];
      s += std::to_string(static_cast<int>(grammar_->nodes[f.node].kind)) + (f.role ? "k" : "") + "/p" + std::to_string(f.phase) +
           "/c" + std::to_string(f.count) + "/e" + std::to_string(f.esc) + "/w" + std::to_string(f.ws) + " ";
    }
    s += "]";
  }
  return s + " close " + std::to_string(matcher_.min_close(state_));
}

}  // namespace dsv3::grammar
