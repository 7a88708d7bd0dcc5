// Running a grammar over whole texts, for the grammar tests.
#pragma once
#include <string>
#include <string_view>

#include "grammar/matcher.h"

namespace dsv3::grammar::testing {

// Whether the text is the start of a match.
inline bool prefix_ok(const Grammar& g, std::string_view text, State* out = nullptr) {
  Matcher m(g);
  State s, t;
  m.start(s);
  for (char c : text) {
    if (!m.advance(s, static_cast<uint8_t>(c), t)) return false;
    std::swap(s, t);
  }
  if (out) *out = s;
  return true;
}

// Whether the whole text is a match (every byte taken, and it may end there).
inline bool matches(const Grammar& g, std::string_view text) {
  State s;
  return prefix_ok(g, text, &s) && Matcher(g).accepting(s);
}

// Closes the text the shortest way min_close promises: each byte must lower
// it by one. Returns the bytes added, or "<stuck>" when no byte does.
inline std::string close_shortest(const Grammar& g, State s) {
  Matcher m(g);
  std::string added;
  State t;
  for (int guard = 0; guard < 10000 && !m.accepting(s); ++guard) {
    const int64_t need = m.min_close(s);
    bool moved = false;
    for (int c = 0x20; c < 0x7f && !moved; ++c) {
      if (!m.advance(s, static_cast<uint8_t>(c), t)) continue;
      if (m.min_close(t) == need - 1) {
        added += static_cast<char>(c);
        std::swap(s, t);
        moved = true;
      }
    }
    if (!moved) return "<stuck>";
  }
  return added;
}

}  // namespace dsv3::grammar::testing
