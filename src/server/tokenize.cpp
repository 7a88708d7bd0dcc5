#include "server/tokenize.h"

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dsv3::server {

using nlohmann::json;

namespace {

// The body as a JSON object, or the error a bad one gets.
std::variant<json, ApiError> object_body(std::string_view body, int max_json_depth) {
  if (auto e = json_too_deep(body, max_json_depth)) return *e;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return invalid("", "the request body is not valid JSON", "invalid_json");
  if (!j.is_object()) return invalid("", "the request body must be a JSON object");
  return j;
}

}  // namespace

JsonOrError tokenize_body(std::string_view body, const ModelInfo& model, int max_json_depth) {
  auto parsed = object_body(body, max_json_depth);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const json& j = std::get<json>(parsed);
  auto content = j.find("content");
  if (content == j.end() || content->is_null()) return invalid("content", "'content' is required");
  if (!content->is_string()) return invalid("content", "'content' must be a string");
  bool add_special = false;
  if (auto a = j.find("add_special"); a != j.end() && !a->is_null()) {
    if (!a->is_boolean()) return invalid("add_special", "'add_special' must be a boolean");
    add_special = a->get<bool>();
  }
  std::vector<int32_t> ids;
  if (add_special && model.bos_id >= 0) ids.push_back(model.bos_id);
  const std::vector<int32_t> text_ids = model.encode(content->get<std::string>());
  ids.insert(ids.end(), text_ids.begin(), text_ids.end());
  return json{{"tokens", ids}};
}

JsonOrError detokenize_body(std::string_view body, const ModelInfo& model, int max_json_depth) {
  auto parsed = object_body(body, max_json_depth);
  if (auto* e = std::get_if<ApiError>(&parsed)) return *e;
  const json& j = std::get<json>(parsed);
  auto tokens = j.find("tokens");
  if (tokens == j.end() || tokens->is_null()) return invalid("tokens", "'tokens' is required");
  if (!tokens->is_array()) return invalid("tokens", "'tokens' must be an array of token ids");
  std::string text;
  for (std::size_t i = 0; i < tokens->size(); ++i) {
    const json& v = (*tokens)[i];
    const std::string p = fmt::format("tokens[{}]", i);
    if (!v.is_number_integer()) return invalid(p, fmt::format("'{}' must be a token id", p));
    // a huge unsigned value would wrap as int64: out of the vocabulary either way
    const int64_t id = v.is_number_unsigned() && v.get<uint64_t>() > (uint64_t{1} << 31) ? -1 : v.get<int64_t>();
    if (id < 0 || id >= model.vocab_size)
      return invalid(p, fmt::format("token id {} is outside the vocabulary [0, {})", v.dump(), model.vocab_size));
    text += model.token_text(static_cast<int32_t>(id));
  }
  return json{{"content", text}};  // invalid UTF-8 (a partial character) is replaced on the wire
}

}  // namespace dsv3::server
