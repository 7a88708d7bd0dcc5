// llama-server's /tokenize and /detokenize: text to the served model's token
// ids and back, for clients that count or build prompts themselves. Pure
// functions of the body and ModelInfo, so tests run them without weights.
#pragma once
#include <nlohmann/json.hpp>
#include <string_view>
#include <variant>

#include "server/api_error.h"
#include "server/json_depth.h"
#include "server/openai_request.h"

namespace dsv3::server {

using JsonOrError = std::variant<nlohmann::json, ApiError>;

// {"content": "text", "add_special": false} -> {"tokens": [ids]}; add_special
// puts the model's BOS first, as /v1/completions does with a text prompt.
JsonOrError tokenize_body(std::string_view body, const ModelInfo& model, int max_json_depth = kDefaultMaxJsonDepth);
// {"tokens": [ids]} -> {"content": "text"}; an id outside the vocabulary is a 400.
JsonOrError detokenize_body(std::string_view body, const ModelInfo& model, int max_json_depth = kDefaultMaxJsonDepth);

}  // namespace dsv3::server
