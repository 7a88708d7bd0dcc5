#include "jinja/jinja.h"

#include <exception>

#include "jinja/parser.h"
#include "jinja/render.h"
#include "jinja/json.h"

namespace dsv3::jinja {
namespace {

// The public API never throws: allocation failures (and anything unforeseen)
// become Errors.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return make_error("jinja: {}", e.what());
  }
}

template <class Json>
Result<std::string> render_json(const Program& program, const Json& context) {
  return guarded([&]() -> Result<std::string> {
    auto value = from_json(context, program.limits.max_nesting);
    if (!value.ok()) return make_error("jinja: {}", value.error().message);
    return render_program(program, value.value());
  });
}

}  // namespace

Result<Template> Template::parse(std::string_view source, const Options& options) {
  return guarded([&]() -> Result<Template> {
    DSV3_ASSIGN_OR_RETURN(auto program, parse_program(source, options));
    return Template(std::move(program));
  });
}

Result<std::string> Template::render(const nlohmann::json& context) const {
  return render_json(*program_, context);
}

Result<std::string> Template::render(const nlohmann::ordered_json& context) const {
  return render_json(*program_, context);
}

}  // namespace dsv3::jinja
