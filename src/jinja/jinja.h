// A Jinja2 template engine covering what Hugging Face chat templates use.
//
//   DSV3_ASSIGN_OR_RETURN(auto tmpl, jinja::Template::parse(source));
//   DSV3_ASSIGN_OR_RETURN(std::string text, tmpl.render(context));
//
// Semantics follow Jinja2 (Python): default Undefined (prints as "", falsy;
// lenient attribute access), Python truthiness, printing and json.dumps.
// Templates may come from untrusted model repositories, so parsing and
// rendering are bounded (Limits) and return Errors instead of crashing.
//
// This is the library's one public header (CMake target dsv3jinja); the
// other headers in src/jinja are internal to it.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"

namespace dsv3::jinja {

struct Limits {
  int max_nesting = 256;                      // brackets, blocks, unary chains at parse time
  uint64_t max_loop_iterations = 10'000'000;  // all loops of one render together
  size_t max_output_bytes = 10'000'000;       // rendered text, and any one string value
  size_t max_list_items = 1'000'000;          // any one list (range(), repetition, ...)
  uint64_t max_work = 200'000'000;            // evaluation steps and bulk copying per render
};

struct Options {
  // Hugging Face renders chat templates with trim_blocks and lstrip_blocks on
  // (Jinja2's own defaults are off).
  bool trim_blocks = true;    // drop the first newline after a block or comment tag
  bool lstrip_blocks = true;  // drop spaces/tabs before a block or comment tag starting a line
  bool keep_trailing_newline = false;
  Limits limits;
};

struct Program;  // the parsed template

// Parses once; render many times, from any number of threads. Errors name line:column.
class Template {
 public:
  static Result<Template> parse(std::string_view source, const Options& options = {});

  // `context` must be an object (or null); its keys become template variables.
  // nlohmann::json sorts object keys; pass ordered_json to keep the caller's
  // key order where it shows (tojson, items()).
  Result<std::string> render(const nlohmann::json& context) const;
  Result<std::string> render(const nlohmann::ordered_json& context) const;

 private:
  explicit Template(std::shared_ptr<const Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const Program> program_;
};

}  // namespace dsv3::jinja
