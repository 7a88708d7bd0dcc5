#include "text/utf8.h"

namespace dsv3::text {

namespace {
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Valid range of the second byte after each lead byte (Unicode table 3-7).
bool second_ok(unsigned char lead, unsigned char b) {
  if (lead == 0xE0) return b >= 0xA0 && b <= 0xBF;
  if (lead == 0xED) return b >= 0x80 && b <= 0x9F;
  if (lead == 0xF0) return b >= 0x90 && b <= 0xBF;
  if (lead == 0xF4) return b >= 0x80 && b <= 0x8F;
  return b >= 0x80 && b <= 0xBF;
}
int expected_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;  // continuation byte or never valid
}
}  // namespace

std::size_t utf8_sequence_length(std::string_view s, std::size_t i, bool* complete_prefix) {
  if (complete_prefix) *complete_prefix = false;
  const unsigned char lead = static_cast<unsigned char>(s[i]);
  const int n = expected_length(lead);
  if (n == 0) return 0;
  for (int k = 1; k < n; ++k) {
    if (i + k >= s.size()) {
      if (complete_prefix) *complete_prefix = true;  // valid so far, just cut off
      return 0;
    }
    const unsigned char b = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? !second_ok(lead, b) : (b < 0x80 || b > 0xBF)) return 0;
  }
  return static_cast<std::size_t>(n);
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

namespace {
// How many bytes an invalid sequence at i spans: the lead plus the
// continuation bytes that were still acceptable.
std::size_t invalid_span(std::string_view s, std::size_t i) {
  const unsigned char lead = static_cast<unsigned char>(s[i]);
  const int n = expected_length(lead);
  std::size_t k = 1;
  while (n > 1 && static_cast<int>(k) < n && i + k < s.size()) {
    const unsigned char b = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? !second_ok(lead, b) : (b < 0x80 || b > 0xBF)) break;
    ++k;
  }
  return k;
}

// Decodes s into out; stops before a trailing incomplete sequence when
// `hold_tail`, returning the number of bytes consumed.
std::size_t decode(std::string_view s, std::string& out, bool hold_tail) {
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    bool partial = false;
    const std::size_t n = utf8_sequence_length(s, i, &partial);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else if (partial && hold_tail) {
      return i;
    } else {
      out.append(kReplacement);
      i += invalid_span(s, i);
    }
  }
  return i;
}
}  // namespace

std::string utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  decode(bytes, out, false);
  return out;
}

void Utf8Stream::push(std::string_view bytes, std::string& out) {
  tail_.append(bytes);
  const std::size_t used = decode(tail_, out, true);
  tail_.erase(0, used);
}

void Utf8Stream::finish(std::string& out) {
  decode(tail_, out, false);
  tail_.clear();
}

}  // namespace dsv3::text
