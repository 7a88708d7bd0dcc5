// JSON Schema to grammar: OpenAI's strict-mode subset (object, properties,
// required, additionalProperties, arrays with items / minItems / maxItems,
// enum, const, the scalar types, anyOf, $ref / $defs) and the bounds that let
// a generation close: minLength / maxLength, minimum / maximum (also
// exclusive), pattern and common formats. Any other keyword is an error that
// names it; annotations (title, description, default, ...) are ignored.
//
// Choices where the schema is silent, made so output stays compact and ends:
// an object takes only its listed properties unless additionalProperties is
// true or a schema; numbers have at most 16 integer and 15 fraction digits;
// a pattern-constrained string holds printable ASCII only.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>

#include "base/status.h"
#include "grammar/grammar.h"

namespace dsv3::grammar {

// Adds the schema's nodes to g; returns the node of its values.
Result<uint32_t> add_schema(Grammar& g, const nlohmann::json& schema);
// A grammar of one value of the schema; finished (literal_cost: see Grammar).
Result<Grammar> schema_grammar(const nlohmann::json& schema, std::function<int64_t(std::string_view)> literal_cost = nullptr);
// A grammar of any JSON object (response_format json_object); finished.
Grammar json_object_grammar(std::function<int64_t(std::string_view)> literal_cost = nullptr);

}  // namespace dsv3::grammar
