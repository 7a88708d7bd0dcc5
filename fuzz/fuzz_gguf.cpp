// A GGUF file of any bytes: the header, metadata and tensor descriptions are
// checked against the file, or give an error; what parses is then read as a
// model would be: its config, tokenizer and chat template from the metadata.
#include "engine/model_text.h"
#include "fuzz_main.h"
#include "model/gguf.h"
#include "model/gguf_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = dsv3::GgufFile::parse({reinterpret_cast<const std::byte*>(data), size}, "fuzz.gguf");
  if (!f.ok()) return 0;
  (void)dsv3::gguf_config(*f);
  if (auto t = dsv3::gguf_tokenizer(*f); t.ok()) (void)(*t)->encode("Hello, world 123 <think>");
  if (auto c = dsv3::gguf_chat_template(*f); c.ok())
    (void)c->render(nlohmann::ordered_json::parse(R"([{"role":"user","content":"hi"}])"), true);
  return 0;
}
