// The model configuration of a GGUF file: llama.cpp's `deepseek2` metadata
// keys, read into the config.json form parse_config() checks.
#pragma once
#include <nlohmann/json.hpp>

#include "base/status.h"
#include "model/config.h"
#include "model/gguf.h"

namespace dsv3 {

// config.json as the Hugging Face release would hold it.
Result<nlohmann::json> gguf_config_json(const GgufFile& f);
Result<ModelConfig> gguf_config(const GgufFile& f);

}  // namespace dsv3
