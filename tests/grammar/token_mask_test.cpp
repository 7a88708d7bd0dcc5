// The token mask against the plain rule it speeds up: a token may come when
// the matcher takes each of its bytes (and, on a short budget, the text can
// still close in time). Checked on a made-up vocabulary that holds every
// hard case, and on DeepSeek-V3's real one.
#include "grammar/token_mask.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "grammar/constrained_text.h"
#include "grammar/json_schema.h"
#include "grammar_test_util.h"
#include "support/golden.h"
#include "text/tokenizer.h"

namespace dsv3::grammar {
namespace {

using nlohmann::json;

std::vector<uint64_t> brute_force(const Matcher& m, const TokenVocabulary& v, const std::vector<bool>& excluded,
                                  const State& s, int64_t remaining) {
  std::vector<uint64_t> bits(v.words(), 0);
  auto run = [&](int64_t budget) {
    State a, b;
    for (int64_t id = 0; id < v.vocab_size(); ++id) {
      const std::string& t = v.token(static_cast<int32_t>(id));
      if (excluded[static_cast<std::size_t>(id)] || t.empty()) continue;
      a = s;
      bool ok = true;
      for (char c : t) {
        if (!m.advance(a, static_cast<uint8_t>(c), b)) {
          ok = false;
          break;
        }
        std::swap(a, b);
      }
      if (ok && (budget < 0 || m.min_close(a) <= budget)) bits[static_cast<std::size_t>(id) / 64] |= uint64_t{1} << (id % 64);
    }
  };
  run(remaining - 1);
  const bool any = std::any_of(bits.begin(), bits.end(), [](uint64_t w) { return w != 0; });
  if (!any && !m.accepting(s)) run(-1);
  return bits;
}

struct Case {
  const char* schema;
  const char* text;  // a valid value: masks are checked at each of its prefixes
};
const Case kCases[] = {
    {R"({"type":"object","properties":{"name":{"type":"string","maxLength":5},"n":{"type":"integer","minimum":-3,"maximum":250},
        "tags":{"type":"array","items":{"enum":["a b","c"]},"maxItems":3}},"required":["name","n"],"additionalProperties":false})",
     R"({"name":"h\u00e9\"é","n":-3,"tags":["a b","c"]})"},
    {R"({"type":"object","additionalProperties":true})", R"({"k é":[1.5e-3,{"x":null}],"z":"w"})"},
    {R"({"anyOf":[{"type":"string","pattern":"^[a-c]{2,4}$"},{"type":"number","maximum":10}]})", R"("abca")"},
};

std::vector<std::string> small_vocab() {
  return {"{", "}", "[", "]", "\"", ":", ",", " ", "\n", "  ", "{\"", "\":", "\",", "\"}", "\"]", "\"name", "name", "n",
          "\":\"", "h", "é", "\xc3", "\xa9", "\\", "\\u", "00e9", "\\\"", "-", "3", "25", "250", "-3", ",\"", "tags",
          "a b", "a", "b", "c", "\"a", "true", "null", "1.5", "e", "-3,", ".", "x", "k", " é", "z", "w", "abc", "ab",
          "\"abca\"", "0", "<eos>", "\x01"};
}

TEST(TokenMask, EqualsTokenByTokenCheckOnASmallVocabulary) {
  const auto tokens = small_vocab();
  const std::vector<int32_t> excluded_ids = {static_cast<int32_t>(tokens.size() - 2)};
  TokenVocabulary v(tokens, excluded_ids);
  std::vector<bool> excluded(tokens.size(), false);
  excluded[tokens.size() - 2] = true;
  for (const Case& c : kCases) {
    auto g = schema_grammar(json::parse(c.schema));
    ASSERT_TRUE(g.ok()) << g.error().message;
    Matcher m(*g);
    TokenMasker masker(m, v);
    const std::string text = c.text;
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
      State s;
      if (!testing::prefix_ok(*g, text.substr(0, cut), &s)) continue;  // mid UTF-8 / escape prefixes are states too
      for (int64_t remaining : {int64_t{1} << 20, int64_t{40}, int64_t{6}, int64_t{2}, int64_t{1}}) {
        std::vector<uint64_t> got(v.words());
        masker.fill(s, remaining, got);
        EXPECT_EQ(got, brute_force(m, v, excluded, s, remaining)) << c.schema << " at '" << text.substr(0, cut) << "' remaining " << remaining;
      }
    }
  }
}

class RealVocabulary : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto tok = text::Tokenizer::load(test::model_dir("tiny") + "/tokenizer.json");
    ASSERT_TRUE(tok.ok());
    tokens_ = new std::vector<std::string>();
    for (int32_t id = 0; id < (*tok)->vocab_size(); ++id) tokens_->push_back((*tok)->token_bytes(id));
    vocab_ = std::make_shared<TokenVocabulary>(*tokens_, std::vector<int32_t>{1});
  }
  static void TearDownTestSuite() {
    delete tokens_;
    vocab_.reset();
  }
  static std::vector<std::string>* tokens_;
  static std::shared_ptr<const TokenVocabulary> vocab_;
};
std::vector<std::string>* RealVocabulary::tokens_ = nullptr;
std::shared_ptr<const TokenVocabulary> RealVocabulary::vocab_;

TEST_F(RealVocabulary, MaskEqualsTokenByTokenCheck) {
  std::vector<bool> excluded(tokens_->size(), false);
  excluded[1] = true;
  auto g = schema_grammar(json::parse(kCases[0].schema));
  ASSERT_TRUE(g.ok());
  Matcher m(*g);
  TokenMasker masker(m, *vocab_);
  const std::string text = kCases[0].text;
  for (std::size_t cut : {0, 1, 3, 9, 12, 20, 27}) {
    State s;
    ASSERT_TRUE(testing::prefix_ok(*g, text.substr(0, cut), &s));
    std::vector<uint64_t> got(vocab_->words());
    masker.fill(s, 1 << 20, got);
    EXPECT_EQ(got, brute_force(m, *vocab_, excluded, s, 1 << 20)) << text.substr(0, cut);
  }
}

// Random tokens among the allowed ones, as a model with random weights
// would draw: the text must be a whole value of the schema when the budget
// ends, whichever tokens were drawn.
TEST_F(RealVocabulary, RandomDrawsCloseWithinTheBudget) {
  const char* schemas[] = {kCases[0].schema, R"({"type":"object"})", kCases[2].schema,
                           R"({"type":"array","items":{"type":"object","properties":{"q":{"type":"string"}},"required":["q"]},"minItems":2})"};
  for (const char* schema : schemas) {
    auto g = schema_grammar(json::parse(schema));
    ASSERT_TRUE(g.ok());
    auto shared = std::make_shared<const Grammar>(std::move(g).value());
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      ConstrainedText ct(shared, vocab_);
      std::mt19937_64 rng(seed);
      std::vector<uint64_t> bits(vocab_->words());
      std::string out;
      const int64_t budget = 60;
      bool ended = false;
      for (int64_t used = 0; used < budget; ++used) {
        const bool may_end = ct.fill(bits, budget - used);
        std::vector<int32_t> ids;
        for (std::size_t w = 0; w < bits.size(); ++w)
          for (uint64_t b = bits[w]; b; b &= b - 1) ids.push_back(static_cast<int32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(b))));
        if (may_end && (ids.empty() || rng() % 4 == 0)) {
          ended = true;
          break;
        }
        ASSERT_FALSE(ids.empty()) << schema << " after " << out;
        const int32_t t = ids[rng() % ids.size()];
        ASSERT_TRUE(ct.accept(t));
        out += (*tokens_)[static_cast<std::size_t>(t)];
      }
      EXPECT_TRUE(ended || ct.accepting()) << schema << ": " << out;
      EXPECT_TRUE(testing::matches(*shared, out)) << schema << ": " << out;
      EXPECT_FALSE(json::parse(out, nullptr, false).is_discarded()) << out;
    }
  }
}

}  // namespace
}  // namespace dsv3::grammar
