// tokenizer.json: loading any bytes, then encoding and decoding a fixed text
// with whatever loaded.
#include "fuzz_main.h"
#include "text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto t = dsv3::text::Tokenizer::parse(dsv3::fuzz::as_text(data, size), "fuzz");
  if (!t.ok()) return 0;
  const auto ids = (*t)->encode("Hello, wörld! 123 <|begin▁of▁sentence|>");
  (void)(*t)->decode(ids);
  return 0;
}
