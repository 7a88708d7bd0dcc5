// POST bodies of /v1/chat/completions and /v1/completions (the first byte
// picks the endpoint: even chat, odd completions) through the server's
// parser, with the bundled model's tokenizer and chat template behind it, as
// `dsv3 serve` sets them up. First bytes 0xfe and 0xff take the body to
// /tokenize and /detokenize instead (pure functions of the same ModelInfo).
#include "fuzz_main.h"
#include "served_model.h"
#include "server/tokenize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto body = dsv3::fuzz::as_text(data + 1, size - 1);
  const auto& info = dsv3::fuzz::served().info;
  if (data[0] == 0xfe) {
    (void)dsv3::server::tokenize_body(body, info);
    return 0;
  }
  if (data[0] == 0xff) {
    (void)dsv3::server::detokenize_body(body, info);
    return 0;
  }
  const auto endpoint = data[0] % 2 ? dsv3::server::Endpoint::kCompletion : dsv3::server::Endpoint::kChat;
  (void)dsv3::server::parse_request(endpoint, body, info);
  return 0;
}
