// JSON schemas (untrusted: they come in requests) through the grammar
// compiler, and a text through the compiled grammar: the input is a schema,
// a NUL, then the text. Compiling refuses or succeeds; matching takes bytes,
// says whether the text may end, and how far it is from closing; none of it
// may crash, hang or read out of bounds. A first byte 0x01 takes the rest as
// a bare pattern for the regex compiler.
#include <nlohmann/json.hpp>

#include "fuzz_main.h"
#include "grammar/byte_regex.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dsv3::grammar;
  const auto input = dsv3::fuzz::as_text(data, size);
  if (!input.empty() && input[0] == '\x01') {
    auto r = ByteRegex::compile(input.substr(1));
    if (r.ok()) {
      int32_t q = r->start();
      for (char c : input.substr(1)) {
        q = r->next(q, static_cast<uint8_t>(c));
        if (q < 0) break;
        (void)r->accepting(q);
        (void)r->distance(q);
      }
    }
    return 0;
  }
  const std::size_t cut = input.find('\0');
  const auto schema_text = input.substr(0, cut);
  const auto text = cut == std::string_view::npos ? std::string_view() : input.substr(cut + 1);
  const auto schema = nlohmann::json::parse(schema_text, nullptr, false);
  if (schema.is_discarded()) return 0;
  auto g = schema_grammar(schema);
  if (!g.ok()) return 0;
  Matcher m(*g);
  State s, t;
  m.start(s);
  for (char c : text) {
    if (!m.advance(s, static_cast<uint8_t>(c), t)) break;
    std::swap(s, t);
    (void)m.min_close(s);
  }
  (void)m.accepting(s);
  return 0;
}
