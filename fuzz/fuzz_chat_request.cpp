// POST bodies of /v1/chat/completions and /v1/completions (the first byte
// picks the endpoint) through the server's parser, with the bundled model's
// tokenizer and chat template behind it, as `dsv3 serve` sets them up.
#include <cstdlib>
#include <memory>

#include "fuzz_main.h"
#include "server/openai_request.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace {
struct Served {
  std::unique_ptr<dsv3::text::Tokenizer> tok;
  std::unique_ptr<dsv3::text::ChatTemplate> chat;
  dsv3::server::ModelInfo info;
};

const Served& served() {
  static const Served s = [] {
    Served s;
    auto tok = dsv3::text::Tokenizer::load(dsv3::fuzz::model_file("tokenizer.json"));
    auto chat = dsv3::text::ChatTemplate::load(DSV3_MODEL_DIR);
    if (!tok.ok() || !chat.ok()) std::abort();
    s.tok = std::move(tok).value();
    s.chat = std::make_unique<dsv3::text::ChatTemplate>(std::move(chat).value());
    s.info.id = "tiny";
    s.info.vocab_size = 129280;
    s.info.context = 4096;
    s.info.bos_id = 0;
    s.info.eos_ids = {1};
    const dsv3::text::ChatTemplate* c = s.chat.get();
    const dsv3::text::Tokenizer* t = s.tok.get();
    s.info.render_chat = [c](const nlohmann::ordered_json& m) { return c->render(m, true); };
    s.info.encode = [t](std::string_view text) { return t->encode(text); };
    s.info.token_text = [t](int32_t id) { return t->token_bytes(id); };
    return s;
  }();
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto endpoint = data[0] % 2 ? dsv3::server::Endpoint::kCompletion : dsv3::server::Endpoint::kChat;
  (void)dsv3::server::parse_request(endpoint, dsv3::fuzz::as_text(data + 1, size - 1), served().info);
  return 0;
}
