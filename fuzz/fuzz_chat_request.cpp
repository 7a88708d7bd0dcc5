// POST bodies of /v1/chat/completions and /v1/completions (the first byte
// picks the endpoint) through the server's parser, with the bundled model's
// tokenizer and chat template behind it, as `dsv3 serve` sets them up.
#include "fuzz_main.h"
#include "served_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto endpoint = data[0] % 2 ? dsv3::server::Endpoint::kCompletion : dsv3::server::Endpoint::kChat;
  (void)dsv3::server::parse_request(endpoint, dsv3::fuzz::as_text(data + 1, size - 1), dsv3::fuzz::served().info);
  return 0;
}
