// Executes a parsed template against a context: scopes, loops, macros,
// expression evaluation, with every render held to the template's Limits.
#pragma once
#include <string>

#include "text/jinja_parser.h"
#include "text/jinja_value.h"

namespace dsv3::text::jinja {

// `context` is a dict (its keys become variables), none or undefined.
Result<std::string> render_program(const Program& program, const Value& context);

}  // namespace dsv3::text::jinja
