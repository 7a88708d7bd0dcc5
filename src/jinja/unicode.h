// Text by code point, as Python sees it: UTF-8 decoding, the character
// classes that str methods test, and the case mapping of upper(), lower(),
// title() and capitalize().
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsv3::jinja {

// UTF-8 helpers: Python indexes strings by code point. Invalid bytes count as
// one code point each.
std::vector<size_t> utf8_starts(std::string_view s);  // byte offset of each code point
size_t utf8_length(std::string_view s);
// Decodes the code point at s[i]; sets *len to its byte length.
uint32_t utf8_decode(std::string_view s, size_t i, size_t* len);
void utf8_append(std::string& out, uint32_t cp);
// Python's str.isspace() for one code point.
bool is_py_space(uint32_t cp);

// ASCII character classes (Jinja's \w, digits in attribute paths and formats).
inline char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
inline bool ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool ascii_digit(char c) { return c >= '0' && c <= '9'; }

// Case mapping is one-to-one for ASCII, Latin-1, Latin Extended-A, Greek and
// Cyrillic (plus Python's ß -> SS); other scripts pass through unchanged.
// Invalid UTF-8 bytes are copied as they are.
std::string to_upper(const std::string& s);
std::string to_lower(const std::string& s);
// Python's str.capitalize(): first character upper, the rest lower.
std::string capitalize(const std::string& s);
// Python's str.title(): a cased character after an uncased one starts a word.
std::string title_method(const std::string& s);
// Jinja's title filter: words start after whitespace, '-', '(', '{', '[', '<'.
std::string title_filter(const std::string& s);
// Python's str.islower() (lower) / isupper(): some cased characters, all of one case.
bool is_all_case(const std::string& s, bool lower);

}  // namespace dsv3::jinja
