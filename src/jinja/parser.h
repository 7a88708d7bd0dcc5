// Builds the statement/expression trees from tokens, following the grammar and
// operator precedence of Jinja2's parser.
#pragma once
#include <memory>
#include <string_view>

#include "jinja/jinja.h"
#include "jinja/ast.h"

namespace dsv3::jinja {

struct Program {
  Body body;
  Limits limits;
};

Result<std::shared_ptr<const Program>> parse_program(std::string_view source, const Options& options);

}  // namespace dsv3::jinja
