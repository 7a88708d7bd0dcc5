// The agent side of a chat request: `tools`, `tool_choice`,
// `parallel_tool_calls` and `response_format`, read into what the template
// renders and the grammar that holds the answer (a tool call in the model's
// own markers, or JSON of a schema).
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <variant>

#include "server/api_error.h"
#include "server/grammar_constraint.h"
#include "server/openai_request.h"

namespace dsv3::server {

struct AgentRequest {
  nlohmann::ordered_json tools;  // as the template takes them (null: none)
  text::ToolCallFormat format = text::ToolCallFormat::kNone;  // tool calls to parse from the answer
  std::optional<GrammarSpec> grammar;                          // null: the answer is free
};

std::variant<AgentRequest, ApiError> read_agent_fields(const nlohmann::json& body, const ModelInfo& model);

// The system text that describes tools to a template that does not render them.
std::string describe_tools(const nlohmann::ordered_json& tools, text::ToolCallFormat format);

}  // namespace dsv3::server
