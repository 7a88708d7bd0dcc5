// Anthropic Messages API requests (POST /v1/messages and
// /v1/messages/count_tokens), translated into an OpenAI chat-completions
// body and run through the OpenAI parser: one path to the engine for both
// APIs. The translation checks the Anthropic fields itself, so that a bad
// request's 400 names the field the client sent.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>
#include <variant>

#include "server/api_error.h"
#include "server/json_depth.h"
#include "server/openai_request.h"

namespace dsv3::server {

enum class AnthropicEndpoint { kMessages, kCountTokens };

// The OpenAI chat-completions body that asks for what `body` does, or the
// error naming the bad field. count_tokens bodies need no max_tokens.
std::variant<nlohmann::json, ApiError> anthropic_to_openai(const nlohmann::json& body, AnthropicEndpoint endpoint);

// A /v1/messages body (bytes) parsed into an engine job.
ParseResult parse_anthropic_request(std::string_view body, const ModelInfo& model,
                                    int max_json_depth = kDefaultMaxJsonDepth);

// /v1/messages/count_tokens: the prompt's tokens as the chat template renders
// it, however long (nothing is generated, so the context does not bound it).
std::variant<int64_t, ApiError> count_anthropic_tokens(std::string_view body, const ModelInfo& model,
                                                       int max_json_depth = kDefaultMaxJsonDepth);

}  // namespace dsv3::server
