// POST bodies of /v1/messages through the Anthropic translation and the
// OpenAI parser behind it, with the bundled model's tokenizer and chat
// template, as `dsv3 serve` sets them up. An odd first byte takes the body
// to /v1/messages/count_tokens instead.
#include "fuzz_main.h"
#include "served_model.h"
#include "server/anthropic_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto body = dsv3::fuzz::as_text(data + 1, size - 1);
  const auto& info = dsv3::fuzz::served().info;
  if (data[0] % 2) {
    (void)dsv3::server::count_anthropic_tokens(body, info);
  } else {
    (void)dsv3::server::parse_anthropic_request(body, info);
  }
  return 0;
}
