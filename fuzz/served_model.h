// The served model as the request parsers see it (server::ModelInfo): the
// bundled tiny model's tokenizer and chat template, set up as `dsv3 serve`
// does, loaded once per process. For the targets that reach parse_request.
#pragma once
#include <cstdlib>
#include <memory>

#include "fuzz_main.h"
#include "server/openai_request.h"
#include "server/served_text.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace dsv3::fuzz {

struct Served {
  std::unique_ptr<text::Tokenizer> tok;
  std::unique_ptr<text::ChatTemplate> chat;
  server::ModelInfo info;
};

inline const Served& served() {
  static const Served s = [] {
    Served s;
    auto tok = text::Tokenizer::load(model_file("tokenizer.json"));
    auto chat = text::ChatTemplate::load(DSV3_MODEL_DIR);
    if (!tok.ok() || !chat.ok()) std::abort();
    s.tok = std::move(tok).value();
    s.chat = std::make_unique<text::ChatTemplate>(std::move(chat).value());
    s.info.id = "tiny";
    s.info.vocab_size = 129280;
    s.info.context = 4096;
    s.info.bos_id = 0;
    s.info.eos_ids = {1};
    server::attach_text(s.info, *s.tok, s.chat.get());
    return s;
  }();
  return s;
}

}  // namespace dsv3::fuzz
