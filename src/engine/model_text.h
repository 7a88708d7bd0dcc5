// The text side of a model: its tokenizer and chat template, from a checkpoint
// directory's tokenizer.json / tokenizer_config.json or from a GGUF file's
// metadata (tokenizer.ggml.*, tokenizer.chat_template).
#pragma once
#include <memory>
#include <string>

#include "base/status.h"
#include "model/gguf.h"
#include "model/model.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace dsv3 {

Result<std::unique_ptr<text::Tokenizer>> load_tokenizer(const std::string& model);
// The same for a loaded model: a GGUF's metadata is read from the file the
// model already holds, not parsed again.
Result<std::unique_ptr<text::Tokenizer>> load_tokenizer(const Model& model);
Result<text::ChatTemplate> load_chat_template(const Model& model);
Result<std::unique_ptr<text::Tokenizer>> gguf_tokenizer(const GgufFile& f);
Result<text::ChatTemplate> gguf_chat_template(const GgufFile& f);
Result<text::ChatTemplate> load_chat_template(const std::string& model);
// Whether the model names a tokenizer at all (a directory may ship none).
bool has_tokenizer(const std::string& model);

}  // namespace dsv3
