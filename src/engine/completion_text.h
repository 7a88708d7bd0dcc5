// A completion's text, built token by token: complete UTF-8 characters only,
// cut before the first stop string, and split into what is final (safe to
// stream) and what is held back because it might still begin a stop string.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "text/utf8.h"

namespace dsv3 {

// Finds stop strings in a growing text and says how much of it is final.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);
  // Given the whole text so far and the length of its previous version:
  // returns the offset of the first stop string that ends in the new part, or
  // npos; with `which`, sets it to that string's index (for stop()).
  std::size_t find(std::string_view text, std::size_t previous_size, std::size_t* which = nullptr) const;
  const std::string& stop(std::size_t i) const { return stops_[i]; }
  // Bytes at the end of text that are a proper prefix of some stop string.
  std::size_t held_back(std::string_view text) const;

 private:
  std::vector<std::string> stops_;
  std::size_t longest_ = 0;
};

class CompletionText {
 public:
  explicit CompletionText(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Adds one token's bytes. True if a stop string now ends the text (which is
  // then cut before it and complete).
  bool push(std::string_view token_bytes);
  // The end of generation for another reason: a dangling partial character
  // becomes U+FFFD. True if that completed a stop string.
  bool finish();

  const std::string& text() const { return text_; }
  // The stop string that ended the text; empty if none did (yet). Valid while
  // this lives (the Anthropic API reports it as stop_sequence).
  std::string_view stopped_by() const {
    return stopped_by_ == std::string_view::npos ? std::string_view() : std::string_view(stops_.stop(stopped_by_));
  }
  // The final text not taken yet (after push returned true or after finish:
  // all of the rest). Valid until the next push.
  std::string_view take();

 private:
  StopMatcher stops_;
  text::Utf8Stream utf8_;
  std::string text_;
  std::size_t taken_ = 0;
  std::size_t stopped_by_ = std::string_view::npos;  // index into the matcher's stops
  bool complete_ = false;
};

}  // namespace dsv3
