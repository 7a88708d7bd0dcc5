#include "grammar/json_schema.h"

#include <gtest/gtest.h>

#include "grammar_test_util.h"

namespace dsv3::grammar {
namespace {

using nlohmann::json;
using testing::close_shortest;
using testing::matches;
using testing::prefix_ok;

Grammar compile(const char* schema) {
  auto g = schema_grammar(json::parse(schema));
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
  return std::move(g).value();
}

TEST(JsonSchema, StrictObjectTakesItsPropertiesInAnyOrderOnce) {
  const Grammar g = compile(R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},
                                "required":["name","age"],"additionalProperties":false})");
  EXPECT_TRUE(matches(g, R"({"name":"Ann","age":31})"));
  EXPECT_TRUE(matches(g, R"({ "age": -4, "name": "" })"));
  EXPECT_TRUE(matches(g, "{\n  \"name\": \"\\u00e9\\n\",\n  \"age\": 0\n}"));
  EXPECT_FALSE(matches(g, R"({"name":"Ann"})"));                   // age required
  EXPECT_FALSE(matches(g, R"({"name":"Ann","age":1,"x":2})"));     // no others
  EXPECT_FALSE(matches(g, R"({"name":"Ann","name":"B","age":1})"));  // once
  EXPECT_FALSE(matches(g, R"({"name":"Ann","age":1.5})"));         // integer
  EXPECT_FALSE(matches(g, R"({"name":"Ann","age":01})"));          // JSON numbers
  EXPECT_FALSE(matches(g, R"({"name":"A)" "\x01" R"(","age":1})"));  // control byte
  EXPECT_FALSE(matches(g, R"({"name":"Ann","age":1}x)"));
}

TEST(JsonSchema, OptionalAndAdditionalProperties) {
  const Grammar g = compile(R"({"type":"object","properties":{"a":{"type":"boolean"}},"additionalProperties":{"type":"null"}})");
  EXPECT_TRUE(matches(g, "{}"));
  EXPECT_TRUE(matches(g, R"({"a":true,"zz":null,"ab":null})"));
  EXPECT_FALSE(matches(g, R"({"zz":1})"));
  EXPECT_FALSE(matches(g, R"({"a":null})"));
  EXPECT_FALSE(matches(g, R"({"zz":null,"zz2":null,"a":true,"a":false})"));
}

TEST(JsonSchema, ArraysEnumsConstAnyOfAndRefs) {
  const Grammar g = compile(R"({"type":"object","properties":{
      "tags":{"type":"array","items":{"enum":["red","green",3,null]},"minItems":1,"maxItems":2},
      "kind":{"const":"fixed"},
      "v":{"anyOf":[{"type":"object","properties":{"x":{"type":"number"}},"required":["x"]},
                    {"type":"object","properties":{"y":{"type":"string","maxLength":2}},"required":["y"]}]},
      "tree":{"$ref":"#/$defs/node"}},
    "required":["tags","kind","v","tree"],
    "$defs":{"node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},
                     "required":["kids"],"additionalProperties":false}}})");
  EXPECT_TRUE(matches(g, R"({"tags":["red",3],"kind":"fixed","v":{"y":"ab"},"tree":{"kids":[{"kids":[]}]}})"));
  EXPECT_TRUE(matches(g, R"({"tags":[null],"kind":"fixed","v":{"x":-1.25e3},"tree":{"kids":[]}})"));
  EXPECT_FALSE(matches(g, R"({"tags":[],"kind":"fixed","v":{"y":"ab"},"tree":{"kids":[]}})"));             // minItems
  EXPECT_FALSE(matches(g, R"({"tags":[3,3,3],"kind":"fixed","v":{"y":"ab"},"tree":{"kids":[]}})"));        // maxItems
  EXPECT_FALSE(matches(g, R"({"tags":["blue"],"kind":"fixed","v":{"y":"ab"},"tree":{"kids":[]}})"));       // enum
  EXPECT_FALSE(matches(g, R"({"tags":[3],"kind":"other","v":{"y":"ab"},"tree":{"kids":[]}})"));            // const
  EXPECT_FALSE(matches(g, R"({"tags":[3],"kind":"fixed","v":{"y":"abc"},"tree":{"kids":[]}})"));           // maxLength
  EXPECT_FALSE(matches(g, R"({"tags":[3],"kind":"fixed","v":{"y":"a"},"tree":{"kids":[{},{}]}})"));        // $ref: kids required
}

TEST(JsonSchema, NumberBoundsHoldWhileTheNumberIsWritten) {
  const Grammar g = compile(R"({"type":"integer","minimum":-5,"maximum":120})");
  for (const char* ok : {"0", "-5", "120", "99", "7"}) EXPECT_TRUE(matches(g, ok)) << ok;
  for (const char* bad : {"121", "-6", "1000", "12.5", "1e2"}) EXPECT_FALSE(matches(g, bad)) << bad;
  EXPECT_FALSE(prefix_ok(g, "121"));  // no integer in [-5, 120] starts with 121
  EXPECT_TRUE(prefix_ok(g, "12"));
  const Grammar r = compile(R"({"type":"number","exclusiveMinimum":0,"maximum":1.5})");
  for (const char* ok : {"1", "0.5", "1.5", "0.001"}) EXPECT_TRUE(matches(r, ok)) << ok;
  for (const char* bad : {"0", "1.6", "2", "-0.1", "0.0"}) EXPECT_FALSE(matches(r, bad)) << bad;
}

TEST(JsonSchema, PatternsAndFormats) {
  const Grammar g = compile(R"({"type":"object","properties":{
      "day":{"type":"string","format":"date"},"id":{"type":"string","pattern":"^[A-Z]{2}-\\d{3}$"},
      "u":{"type":"string","format":"uuid"},"free":{"type":"string","pattern":"ab+c"}},"required":["day","id","u","free"]})");
  EXPECT_TRUE(matches(g, R"({"day":"2024-02-29","id":"AB-123","u":"123e4567-e89b-12d3-a456-426614174000","free":"xxabbbcyy"})"));
  EXPECT_FALSE(matches(g, R"({"day":"2024-13-01","id":"AB-123","u":"123e4567-e89b-12d3-a456-426614174000","free":"abc"})"));
  EXPECT_FALSE(matches(g, R"({"day":"2024-01-01","id":"AB-1234","u":"123e4567-e89b-12d3-a456-426614174000","free":"abc"})"));
  EXPECT_FALSE(matches(g, R"({"day":"2024-01-01","id":"AB-123","u":"123e4567-e89b-12d3-a456-426614174000","free":"ac"})"));
}

TEST(JsonSchema, UnsupportedKeywordsAreNamed) {
  for (const auto& [schema, word] : std::vector<std::pair<const char*, const char*>>{
           {R"({"type":"number","multipleOf":2})", "multipleOf"},
           {R"({"type":"object","patternProperties":{}})", "patternProperties"},
           {R"({"type":"array","uniqueItems":true})", "uniqueItems"},
           {R"({"not":{}})", "not"},
           {R"({"type":"string","format":"ipv6"})", "ipv6"},
           {R"j({"type":"string","pattern":"(?=a)"})j", "lookaround"},
           {R"({"$ref":"#/$defs/missing"})", "missing"},
           {R"({"type":"wat"})", "wat"},
       }) {
    auto g = schema_grammar(json::parse(schema));
    ASSERT_FALSE(g.ok()) << schema;
    EXPECT_NE(g.error().message.find(word), std::string::npos) << g.error().message;
  }
}

TEST(JsonSchema, MinCloseIsTheShortestWayToAWholeValue) {
  const Grammar g = compile(R"({"type":"object","properties":{
      "name":{"type":"string","minLength":3},"n":{"type":"integer","minimum":100},
      "list":{"type":"array","items":{"type":"boolean"},"minItems":2},"opt":{"type":"string"}},
      "required":["name","n","list"],"additionalProperties":false})");
  for (const char* prefix : {"", "{", R"({"na)", R"({"name":"x)", R"({"name":"abc","n":1)", R"({"list":[tr)",
                             R"({"opt":"zz","list":[true,)", R"({"n":100,"list":[false,false],"name":"abcd")"}) {
    State s;
    ASSERT_TRUE(prefix_ok(g, prefix, &s)) << prefix;
    const int64_t need = Matcher(g).min_close(s);
    const std::string tail = close_shortest(g, s);
    ASSERT_NE(tail, "<stuck>") << prefix;
    EXPECT_EQ(static_cast<int64_t>(tail.size()), need) << prefix << " + " << tail;
    EXPECT_TRUE(matches(g, std::string(prefix) + tail)) << prefix << tail;
  }
}

TEST(JsonSchema, JsonObjectTakesAnyObject) {
  const Grammar g = json_object_grammar();
  EXPECT_TRUE(matches(g, R"({"a":[1,{"b":null}],"c":"d","e":-0.5e-7,"f":true})"));
  EXPECT_TRUE(matches(g, "{}"));
  EXPECT_FALSE(matches(g, "[]"));
  EXPECT_FALSE(matches(g, R"({"a":1,})"));
}

}  // namespace
}  // namespace dsv3::grammar
