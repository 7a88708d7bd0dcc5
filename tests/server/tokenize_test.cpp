// /tokenize and /detokenize bodies: ids and text both ways, and bad bodies
// refused with a 400 naming the field.
#include "server/tokenize.h"

#include <gtest/gtest.h>

namespace dsv3::server {
namespace {

using nlohmann::json;

// One token per byte, BOS 0, a vocabulary of 300.
ModelInfo byte_model() {
  ModelInfo m;
  m.id = "tiny";
  m.vocab_size = 300;
  m.bos_id = 0;
  m.encode = [](std::string_view s) {
    std::vector<int32_t> ids;
    for (unsigned char c : s) ids.push_back(c);
    return ids;
  };
  m.token_text = [](int32_t id) { return id < 256 ? std::string(1, static_cast<char>(id)) : std::string("<x>"); };
  return m;
}

json ok(const JsonOrError& r) {
  if (auto* e = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << "unexpected error: " << e->message;
    return {};
  }
  return std::get<json>(r);
}

ApiError bad(const JsonOrError& r) {
  if (!std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << "accepted: " << std::get<json>(r).dump();
    return {};
  }
  return std::get<ApiError>(r);
}

TEST(Tokenize, TextToIdsAndBack) {
  const ModelInfo m = byte_model();
  EXPECT_EQ(ok(tokenize_body(R"({"content": "ab"})", m)), json::parse(R"({"tokens": [97, 98]})"));
  EXPECT_EQ(ok(tokenize_body(R"({"content": "ab", "add_special": true})", m)), json::parse(R"({"tokens": [0, 97, 98]})"));
  EXPECT_EQ(ok(tokenize_body(R"({"content": "", "add_special": false})", m)), json::parse(R"({"tokens": []})"));
  EXPECT_EQ(ok(detokenize_body(R"({"tokens": [97, 98, 299]})", m)), json::parse(R"({"content": "ab<x>"})"));
  EXPECT_EQ(ok(detokenize_body(R"({"tokens": []})", m)), json::parse(R"({"content": ""})"));
}

TEST(Tokenize, BadBodiesNameTheField) {
  const ModelInfo m = byte_model();
  struct Case {
    const char* body;
    bool detok;
    const char* param;
  };
  for (const Case& c : std::vector<Case>{{"{", false, ""},
                                         {"[1]", false, ""},
                                         {"{}", false, "content"},
                                         {R"({"content": 5})", false, "content"},
                                         {R"({"content": "a", "add_special": "yes"})", false, "add_special"},
                                         {"nope", true, ""},
                                         {"{}", true, "tokens"},
                                         {R"({"tokens": "1 2"})", true, "tokens"},
                                         {R"({"tokens": [1, "2"]})", true, "tokens[1]"},
                                         {R"({"tokens": [1, 2.5]})", true, "tokens[1]"},
                                         {R"({"tokens": [300]})", true, "tokens[0]"},
                                         {R"({"tokens": [5, -1]})", true, "tokens[1]"},
                                         {R"({"tokens": [18446744073709551615]})", true, "tokens[0]"}}) {
    const ApiError e = bad(c.detok ? detokenize_body(c.body, m) : tokenize_body(c.body, m));
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body << ": " << e.message;
    EXPECT_EQ(e.type, "invalid_request_error") << c.body;
  }
}

TEST(Tokenize, DeepBodiesAreRefusedBeforeParsing) {
  const std::string deep = R"({"tokens": )" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_EQ(bad(detokenize_body(deep, byte_model(), 16)).status, 400);
}

}  // namespace
}  // namespace dsv3::server
