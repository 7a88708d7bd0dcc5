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

bool ConstrainedText::complete() const {
  if (!matcher_.accepting(state_)) return false;
  for (int c = 0; c < 256; ++c) {
    State probe;
    if (matcher_.advance(state_, static_cast<uint8_t>(c), probe)) return false;
  }
  return true;
}

}  // namespace dsv3::grammar
