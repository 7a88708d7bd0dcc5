// The real (DeepSeek-V3) tokenizer over any bytes: encode, then decode gives
// the bytes back for valid UTF-8.
#include <cstdlib>

#include "fuzz_main.h"
#include "text/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tok = dsv3::text::Tokenizer::load(dsv3::fuzz::model_file("tokenizer.json"));
  if (!tok.ok()) std::abort();
  const std::string_view text = dsv3::fuzz::as_text(data, size);
  const auto ids = tok.value()->encode(text);
  (void)tok.value()->decode(ids);
  return 0;
}
