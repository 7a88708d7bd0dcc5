#include "engine/completion_text.h"

#include <algorithm>

namespace dsv3 {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
  for (const auto& s : stops_) longest_ = std::max(longest_, s.size());
}

std::size_t StopMatcher::find(std::string_view text, std::size_t previous_size, std::size_t* which) const {
  if (stops_.empty()) return std::string_view::npos;
  // a match must end in the new part, so it starts at most longest-1 bytes before it
  const std::size_t from = previous_size >= longest_ ? previous_size - longest_ + 1 : 0;
  std::size_t best = std::string_view::npos;
  for (std::size_t i = 0; i < stops_.size(); ++i) {
    const std::size_t at = text.find(stops_[i], from);
    if (at < best) {
      best = at;
      if (which) *which = i;
    }
  }
  return best;
}

std::size_t StopMatcher::held_back(std::string_view text) const {
  std::size_t hold = 0;
  for (const auto& s : stops_)
    for (std::size_t k = std::min(s.size() - 1, text.size()); k > hold; --k)
      if (text.compare(text.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  return hold;
}

bool CompletionText::push(std::string_view token_bytes) {
  if (complete_) return true;
  const std::size_t before = text_.size();
  utf8_.push(token_bytes, text_);
  if (const std::size_t at = stops_.find(text_, before, &stopped_by_); at != std::string_view::npos) {
    text_.resize(at);
    complete_ = true;
  }
  return complete_;
}

bool CompletionText::finish() {
  if (complete_) return true;
  complete_ = true;
  if (!utf8_.pending()) return false;
  const std::size_t before = text_.size();
  utf8_.finish(text_);
  if (const std::size_t at = stops_.find(text_, before, &stopped_by_); at != std::string_view::npos) {
    text_.resize(at);
    return true;
  }
  return false;
}

std::string_view CompletionText::take() {
  const std::size_t end = complete_ ? text_.size() : text_.size() - stops_.held_back(text_);
  if (end <= taken_) return {};
  const std::string_view piece = std::string_view(text_).substr(taken_, end - taken_);
  taken_ = end;
  return piece;
}

}  // namespace dsv3
