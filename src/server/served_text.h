// The served model's text side as the request parsers see it (ModelInfo):
// tokenizer, chat template, the tool-call format and reasoning markers the
// template shows, and the vocabulary for constrained decoding. Set up once,
// the same for `dsv3 serve`, the tests and the fuzz targets.
#pragma once
#include "server/openai_request.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace dsv3::server {

// tokenizer and chat (may be null) must outlive info.
void attach_text(ModelInfo& info, const text::Tokenizer& tokenizer, const text::ChatTemplate* chat);

}  // namespace dsv3::server
