#include "jinja/unicode.h"

namespace dsv3::jinja {

// ---- UTF-8 ----------------------------------------------------------------

uint32_t utf8_decode(std::string_view s, size_t i, size_t* len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  int n = 0;
  uint32_t cp = 0;
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    n = 1, cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 2, cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 3, cp = b0 & 0x07;
  } else {
    *len = 1;
    return b0;
  }
  if (i + static_cast<size_t>(n) >= s.size()) {  // truncated sequence
    *len = 1;
    return b0;
  }
  for (int k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      *len = 1;
      return b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  *len = static_cast<size_t>(n) + 1;
  return cp;
}

std::vector<size_t> utf8_starts(std::string_view s) {
  std::vector<size_t> starts;
  starts.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    starts.push_back(i);
    size_t len = 1;
    utf8_decode(s, i, &len);
    i += len;
  }
  return starts;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    size_t len = 1;
    utf8_decode(s, i, &len);
    i += len;
  }
  return n;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_py_space(uint32_t cp) {
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F)) return true;
  if (cp < 0x85) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// ---- case mapping ---------------------------------------------------------

namespace {

// One-to-one case mapping for ASCII, Latin-1, Latin Extended-A, Greek and
// Cyrillic; other scripts pass through unchanged.
bool latin_a_even_upper(uint32_t c) {
  return (c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) || (c >= 0x14A && c <= 0x177);
}
bool latin_a_odd_upper(uint32_t c) { return (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E); }

uint32_t cp_lower(uint32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (latin_a_even_upper(c)) return c % 2 == 0 ? c + 1 : c;
  if (latin_a_odd_upper(c)) return c % 2 == 1 ? c + 1 : c;
  if (c == 0x178) return 0xFF;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

uint32_t cp_upper(uint32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c == 0xB5) return 0x39C;
  if (latin_a_even_upper(c)) return c % 2 == 1 ? c - 1 : c;
  if (latin_a_odd_upper(c)) return c % 2 == 0 ? c - 1 : c;
  if (c == 0x131) return 'I';
  if (c == 0x17F) return 'S';
  if (c >= 0x3B1 && c <= 0x3C9) return c == 0x3C2 ? 0x3A3 : c - 32;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

bool cp_cased(uint32_t c) { return cp_lower(c) != c || cp_upper(c) != c || c == 0xDF; }

void append_upper(std::string& out, uint32_t c) {
  if (c == 0xDF) {
    out += "SS";  // as Python
  } else {
    utf8_append(out, cp_upper(c));
  }
}

// Calls f(out, code_point) for each character; invalid bytes are copied as is.
template <class F>
std::string map_chars(const std::string& s, F&& f) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = utf8_decode(s, i, &len);
    if (len == 1 && cp >= 0x80) {
      out += s[i];
    } else {
      f(out, cp);
    }
    i += len;
  }
  return out;
}

}  // namespace

std::string to_upper(const std::string& s) {
  return map_chars(s, [](std::string& out, uint32_t c) { append_upper(out, c); });
}
std::string to_lower(const std::string& s) {
  return map_chars(s, [](std::string& out, uint32_t c) { utf8_append(out, cp_lower(c)); });
}

// Python's str.capitalize(): first character upper, the rest lower.
std::string capitalize(const std::string& s) {
  bool first = true;
  return map_chars(s, [&](std::string& out, uint32_t c) {
    if (first) {
      append_upper(out, c);
    } else {
      utf8_append(out, cp_lower(c));
    }
    first = false;
  });
}

// Python's str.title(): a cased character after an uncased one starts a word.
std::string title_method(const std::string& s) {
  bool prev_cased = false;
  return map_chars(s, [&](std::string& out, uint32_t c) {
    if (prev_cased) {
      utf8_append(out, cp_lower(c));
    } else {
      append_upper(out, c);
    }
    prev_cased = cp_cased(c);
  });
}

// Python's str.islower() / isupper(): some cased characters, all of one case.
bool is_all_case(const std::string& s, bool lower) {
  bool any = false;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t c = utf8_decode(s, i, &len);
    i += len;
    if (!cp_cased(c)) continue;
    if (lower ? cp_lower(c) != c : (cp_upper(c) != c || c == 0xDF)) return false;
    any = true;
  }
  return any;
}

// Jinja's title filter: words start after whitespace, '-', '(', '{', '[', '<'.
std::string title_filter(const std::string& s) {
  bool word_start = true;
  return map_chars(s, [&](std::string& out, uint32_t c) {
    const bool sep = is_py_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      utf8_append(out, c);
    } else if (word_start) {
      append_upper(out, c);
    } else {
      utf8_append(out, cp_lower(c));
    }
    word_start = sep;
  });
}

}  // namespace dsv3::jinja
