// Splits a Jinja template into text and tag tokens, applying Jinja2's
// whitespace rules ({%- -%}, trim_blocks, lstrip_blocks) as its lexer does.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace dsv3::jinja {

enum class TokenType : uint8_t {
  kText,        // literal template text (already whitespace-controlled)
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,  // value in `text`, escapes decoded
  kInt,
  kFloat,
  kOp,  // operator or punctuation in `text`
  kEof,
};

struct Token {
  TokenType type = TokenType::kEof;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
  int col = 1;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
  int max_nesting = 256;  // open brackets inside one tag
};

Result<std::vector<Token>> tokenize(std::string_view source, const LexOptions& options);

}  // namespace dsv3::jinja
