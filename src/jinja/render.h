// Executes a parsed template against a context: scopes, loops, macros,
// expression evaluation, with every render held to the template's Limits.
#pragma once
#include <string>

#include "jinja/parser.h"
#include "jinja/value.h"

namespace dsv3::jinja {

// `context` is a dict (its keys become variables), none or undefined.
Result<std::string> render_program(const Program& program, const Value& context);

}  // namespace dsv3::jinja
