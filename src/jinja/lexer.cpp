#include "jinja/lexer.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "jinja/unicode.h"

namespace dsv3::jinja {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident(char c) { return is_ident_start(c) || is_digit(c); }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Index just past the whitespace (Python's \s) starting at i.
size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size()) {
    size_t len = 1;
    if (!is_py_space(utf8_decode(s, i, &len))) break;
    i += len;
  }
  return i;
}

// Python's str.rstrip().
std::string_view rstrip(std::string_view s) {
  size_t end = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const bool space = is_py_space(utf8_decode(s, i, &len));
    i += len;
    if (!space) end = i;
  }
  return s.substr(0, end);
}

// Jinja normalizes every newline sequence to "\n" and by default drops one
// trailing newline (keep_trailing_newline=False).
std::string normalize(std::string_view source, bool keep_trailing_newline) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  Lexer(std::string src, const LexOptions& options) : src_(std::move(src)), opt_(options) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  Result<std::vector<Token>> run() {
    const size_t n = src_.size();
    while (pos_ < n) {
      const size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit(TokenType::kText, src_.substr(pos_), pos_);
        break;
      }
      const char kind = src_[tag + 1];
      const char sign = tag + 2 < n && (src_[tag + 2] == '-' || src_[tag + 2] == '+') ? src_[tag + 2] : 0;
      emit(TokenType::kText, std::string(text_before(tag, kind, sign)), pos_);
      if (kind == '#') {
        DSV3_RETURN_IF_ERROR(lex_comment(tag, sign));
      } else {
        DSV3_RETURN_IF_ERROR(lex_tag(tag, kind, sign));
      }
    }
    emit(TokenType::kEof, "", n);
    return std::move(out_);
  }

 private:
  std::string src_;
  LexOptions opt_;
  std::vector<size_t> line_starts_;
  std::vector<Token> out_;
  size_t pos_ = 0;
  bool line_starting_ = true;  // the previous tag's match ended with a newline

  bool at(size_t p, std::string_view s) const { return src_.compare(p, s.size(), s) == 0; }

  void where(size_t off, int* line, int* col) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), off);
    const size_t idx = static_cast<size_t>(it - line_starts_.begin()) - 1;
    *line = static_cast<int>(idx) + 1;
    *col = static_cast<int>(off - line_starts_[idx]) + 1;
  }

  Error fail(size_t off, std::string_view msg) const {
    int line = 0, col = 0;
    where(off, &line, &col);
    return make_error("jinja {}:{}: {}", line, col, msg);
  }

  void emit(TokenType type, std::string text, size_t off) {
    if (type == TokenType::kText && text.empty()) return;
    Token t;
    t.type = type;
    t.text = std::move(text);
    where(off, &t.line, &t.col);
    out_.push_back(std::move(t));
  }

  size_t find_tag(size_t from) const {
    for (size_t p = src_.find('{', from); p != std::string::npos; p = src_.find('{', p + 1)) {
      if (p + 1 < src_.size() && (src_[p + 1] == '{' || src_[p + 1] == '%' || src_[p + 1] == '#')) {
        return p;
      }
    }
    return std::string::npos;
  }

  // The text between pos_ and a tag at `tag`, after whitespace control:
  // `-` strips all whitespace; lstrip_blocks strips spaces and tabs before a
  // block or comment tag that starts its line.
  std::string_view text_before(size_t tag, char kind, char sign) const {
    std::string_view text(src_.data() + pos_, tag - pos_);
    if (sign == '-') return rstrip(text);
    if (sign != '+' && opt_.lstrip_blocks && kind != '{') {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if (l_pos > 0 || line_starting_) {
        const std::string_view tail = text.substr(l_pos);
        if (std::all_of(tail.begin(), tail.end(), [](char c) { return c == ' ' || c == '\t'; })) {
          return text.substr(0, l_pos);
        }
      }
    }
    return text;
  }

  // Moves past a tag's end: `-` eats the following whitespace; otherwise
  // trim_blocks eats one newline after block and comment tags.
  void finish_tag(size_t after, char end_sign, bool trim_eligible) {
    if (end_sign == '-') {
      const size_t q = skip_space(src_, after);
      line_starting_ = q > after && src_[q - 1] == '\n';
      pos_ = q;
    } else if (end_sign != '+' && trim_eligible && opt_.trim_blocks && after < src_.size() &&
               src_[after] == '\n') {
      pos_ = after + 1;
      line_starting_ = true;
    } else {
      pos_ = after;
      line_starting_ = false;
    }
  }

  Status lex_comment(size_t tag, char sign) {
    const size_t p = tag + 2 + (sign ? 1 : 0);
    const size_t k = src_.find("#}", p);
    if (k == std::string::npos) return fail(tag, "unterminated comment '{#'");
    const char end_sign = k > p && (src_[k - 1] == '-' || src_[k - 1] == '+') ? src_[k - 1] : 0;
    finish_tag(k + 2, end_sign, true);
    return {};
  }

  // `{% raw %}`: returns the index just past the opening tag (and sets
  // *strip when it ends in -%}), or npos when the tag is not a raw tag.
  size_t raw_begin_end(size_t p, bool* strip) const {
    size_t q = skip_space(src_, p);
    if (!at(q, "raw") || (q + 3 < src_.size() && is_ident(src_[q + 3]))) return std::string::npos;
    q = skip_space(src_, q + 3);
    *strip = at(q, "-%}");
    if (*strip) return q + 3;
    return at(q, "%}") ? q + 2 : std::string::npos;
  }

  Status lex_raw(size_t tag, size_t after_begin, bool strip) {
    // The raw opening tag honours `-%}` but not trim_blocks, as in Jinja.
    finish_tag(after_begin, strip ? '-' : '+', false);
    const size_t content = pos_;
    for (size_t k = src_.find("{%", content); k != std::string::npos; k = src_.find("{%", k + 2)) {
      size_t m = k + 2;
      const char sign = m < src_.size() && (src_[m] == '-' || src_[m] == '+') ? src_[m] : 0;
      if (sign) ++m;
      m = skip_space(src_, m);
      if (!at(m, "endraw") || (m + 6 < src_.size() && is_ident(src_[m + 6]))) continue;
      m = skip_space(src_, m + 6);
      char end_sign = 0;
      if (m < src_.size() && (src_[m] == '-' || src_[m] == '+')) end_sign = src_[m++];
      if (!at(m, "%}")) continue;
      emit(TokenType::kText, std::string(text_before(k, '%', sign)), content);
      finish_tag(m + 2, end_sign, true);
      return {};
    }
    return fail(tag, "missing '{% endraw %}' for '{% raw %}'");
  }

  Status lex_tag(size_t tag, char kind, char sign) {
    const bool block = kind == '%';
    emit(block ? TokenType::kBlockBegin : TokenType::kVarBegin, "", tag);
    size_t p = tag + 2 + (sign ? 1 : 0);
    if (block) {
      bool strip = false;
      const size_t raw_end = raw_begin_end(p, &strip);
      if (raw_end != std::string::npos) {
        out_.pop_back();  // the raw tag produces only text
        return lex_raw(tag, raw_end, strip);
      }
    }
    std::vector<char> brackets;
    for (;;) {
      p = skip_space(src_, p);
      if (p >= src_.size()) {
        return fail(tag, block ? "unterminated tag '{%' (missing '%}')" : "unterminated '{{' (missing '}}')");
      }
      if (brackets.empty()) {
        if (!block && (at(p, "-}}") || at(p, "}}"))) {
          const bool strip = src_[p] == '-';
          emit(TokenType::kVarEnd, "", p);
          finish_tag(p + (strip ? 3 : 2), strip ? '-' : 0, false);
          return {};
        }
        if (block && (at(p, "-%}") || at(p, "+%}") || at(p, "%}"))) {
          const char end_sign = src_[p] == '%' ? 0 : src_[p];
          emit(TokenType::kBlockEnd, "", p);
          finish_tag(p + (end_sign ? 3 : 2), end_sign, true);
          return {};
        }
      }
      DSV3_RETURN_IF_ERROR(lex_token(p, brackets));
    }
  }

  Status lex_token(size_t& p, std::vector<char>& brackets) {
    const char c = src_[p];
    if (is_ident_start(c)) {
      const size_t start = p;
      while (p < src_.size() && is_ident(src_[p])) ++p;
      emit(TokenType::kName, src_.substr(start, p - start), start);
      return {};
    }
    if (is_digit(c)) return lex_number(p);
    if (c == '\'' || c == '"') return lex_string(p);
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
    for (std::string_view op : kTwo) {
      if (at(p, op)) {
        emit(TokenType::kOp, std::string(op), p);
        p += 2;
        return {};
      }
    }
    static constexpr std::string_view kOne = "+-*/%~<>=()[]{},.:|";
    if (kOne.find(c) == std::string_view::npos) {
      return fail(p, fmt::format("unexpected character '{}' in tag", c));
    }
    if (c == '(' || c == '[' || c == '{') {
      if (static_cast<int>(brackets.size()) >= opt_.max_nesting) {
        return fail(p, fmt::format("brackets nested deeper than {}", opt_.max_nesting));
      }
      brackets.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
    } else if (c == ')' || c == ']' || c == '}') {
      if (brackets.empty() || brackets.back() != c) return fail(p, fmt::format("unexpected '{}'", c));
      brackets.pop_back();
    }
    emit(TokenType::kOp, std::string(1, c), p);
    ++p;
    return {};
  }

  void skip_digits(size_t& p) const {
    while (p < src_.size() &&
           (is_digit(src_[p]) || (src_[p] == '_' && p + 1 < src_.size() && is_digit(src_[p + 1])))) {
      ++p;
    }
  }

  Status lex_number(size_t& p) {
    const size_t start = p;
    skip_digits(p);
    bool is_float = false;
    // `a.0.1` is two subscripts, not a float (Jinja's (?<!\.) lookbehind).
    const bool after_dot = start > 0 && src_[start - 1] == '.';
    if (!after_dot) {
      if (p + 1 < src_.size() && src_[p] == '.' && is_digit(src_[p + 1])) {
        ++p;
        skip_digits(p);
        is_float = true;
      }
      if (p < src_.size() && (src_[p] == 'e' || src_[p] == 'E')) {
        size_t q = p + 1;
        if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
        if (q < src_.size() && is_digit(src_[q])) {
          p = q;
          skip_digits(p);
          is_float = true;
        }
      }
    }
    std::string digits;
    for (size_t i = start; i < p; ++i) {
      if (src_[i] != '_') digits += src_[i];
    }
    Token t;
    where(start, &t.line, &t.col);
    t.text = digits;
    const char* b = digits.data();
    const char* e = b + digits.size();
    if (!is_float) {
      auto res = std::from_chars(b, e, t.int_value);
      if (res.ec == std::errc() && res.ptr == e) {
        t.type = TokenType::kInt;
        out_.push_back(std::move(t));
        return {};
      }
    }
    // Floats, and integers beyond 64 bits (Python would keep them exact).
    t.type = TokenType::kFloat;
    t.float_value = std::strtod(digits.c_str(), nullptr);
    out_.push_back(std::move(t));
    return {};
  }

  // Python string literal escapes (Jinja decodes with "unicode-escape").
  Status lex_string(size_t& p) {
    const size_t start = p;
    const char quote = src_[p++];
    std::string value;
    uint32_t pending_high = 0;  // a \uD8xx waiting for its low surrogate
    auto flush_high = [&] {
      if (pending_high) utf8_append(value, 0xFFFD);
      pending_high = 0;
    };
    for (;;) {
      if (p >= src_.size()) return fail(start, "unterminated string literal");
      const char c = src_[p];
      if (c == quote) {
        ++p;
        break;
      }
      if (c != '\\') {
        flush_high();
        value += c;
        ++p;
        continue;
      }
      if (p + 1 >= src_.size()) return fail(start, "unterminated string literal");
      const char e = src_[p + 1];
      p += 2;
      int hex_digits = 0;
      switch (e) {
        case '\n':
          break;
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'n':
          value += '\n';
          break;
        case 'r':
          value += '\r';
          break;
        case 't':
          value += '\t';
          break;
        case 'v':
          value += '\v';
          break;
        case 'x':
          hex_digits = 2;
          break;
        case 'u':
          hex_digits = 4;
          break;
        case 'U':
          hex_digits = 8;
          break;
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && p < src_.size() && src_[p] >= '0' && src_[p] <= '7'; ++k) {
              cp = cp * 8 + static_cast<uint32_t>(src_[p++] - '0');
            }
            flush_high();
            utf8_append(value, cp);
          } else if (e == 'N') {
            return fail(p - 2, "\\N{...} escapes are not supported");
          } else {
            value += '\\';
            value += e;
          }
      }
      if (hex_digits == 0) continue;
      uint32_t cp = 0;
      for (int k = 0; k < hex_digits; ++k) {
        const int h = p < src_.size() ? hex_value(src_[p]) : -1;
        if (h < 0) return fail(p, fmt::format("truncated \\{} escape in string literal", e));
        cp = cp * 16 + static_cast<uint32_t>(h);
        ++p;
      }
      if (cp > 0x10FFFF) return fail(p, "escape is not a valid Unicode code point");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        flush_high();
        pending_high = cp;
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        // Python keeps lone surrogates; they cannot be UTF-8, so pair them up.
        if (pending_high) {
          utf8_append(value, 0x10000 + ((pending_high - 0xD800) << 10) + (cp - 0xDC00));
          pending_high = 0;
        } else {
          utf8_append(value, 0xFFFD);
        }
      } else {
        flush_high();
        utf8_append(value, cp);
      }
    }
    flush_high();
    Token t;
    t.type = TokenType::kString;
    t.text = std::move(value);
    where(start, &t.line, &t.col);
    out_.push_back(std::move(t));
    return {};
  }
};

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view source, const LexOptions& options) {
  Lexer lexer(normalize(source, options.keep_trailing_newline), options);
  return lexer.run();
}

}  // namespace dsv3::jinja
