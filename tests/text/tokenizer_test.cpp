// The tokenizer against the goldens of the Rust `tokenizers` library on
// DeepSeek-V3's tokenizer.json, and its edge cases.
#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>

#include "base/fifo_writer.h"

#include "support/golden.h"
#include "support/temp_dir.h"
#include "text/utf8.h"

namespace dsv3::test {
namespace {

const text::Tokenizer& deepseek() {
  static std::unique_ptr<text::Tokenizer> t = [] {
    auto r = text::Tokenizer::load(model_dir("tiny") + "/tokenizer.json");
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(r).value();
  }();
  return *t;
}

const nlohmann::json& goldens() {
  static const nlohmann::json j = read_json(reference_dir() + "/goldens/tokenizer/shared.json");
  return j;
}

TEST(Tokenizer, EncodeGoldensExact) {
  int n = 0;
  for (const auto& c : goldens()["encode"]) {
    const std::string text = c["text"];
    EXPECT_EQ(deepseek().encode(text), c["ids"].get<std::vector<int32_t>>()) << "text: " << text;
    ++n;
  }
  EXPECT_EQ(n, 23);
}

TEST(Tokenizer, DecodeGoldensExact) {
  for (const auto& c : goldens()["encode"]) {
    const auto ids = c["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(deepseek().decode(ids), c["decoded"].get<std::string>()) << "text: " << c["text"];
  }
}

TEST(Tokenizer, ChatGoldenIdsExact) {
  for (const auto& c : goldens()["chat"]) {
    if (!c.contains("text")) continue;
    EXPECT_EQ(deepseek().encode(c["text"].get<std::string>()), c["ids"].get<std::vector<int32_t>>());
  }
}

TEST(Tokenizer, SpecialTokens) {
  const auto& t = deepseek();
  EXPECT_EQ(t.token_id("<｜begin▁of▁sentence｜>"), 0);
  EXPECT_EQ(t.token_id("<｜end▁of▁sentence｜>"), 1);
  EXPECT_TRUE(t.is_special(0));
  EXPECT_EQ(t.encode("<｜User｜>"), (std::vector<int32_t>{128803}));
  EXPECT_EQ(t.decode(std::vector<int32_t>{0, 1}, /*skip_special=*/true), "");
  EXPECT_EQ(t.vocab_size(), 128815);
}

TEST(Tokenizer, EmptyText) {
  EXPECT_TRUE(deepseek().encode("").empty());
  EXPECT_EQ(deepseek().decode(std::vector<int32_t>{}), "");
}

// Documented behaviour: invalid UTF-8 is replaced by U+FFFD, then encoded.
TEST(Tokenizer, InvalidUtf8IsReplaced) {
  const auto& t = deepseek();
  const std::string bad = "ab\xff\xfe" "cd\xe4\xb8";  // stray bytes and a cut CJK character
  EXPECT_EQ(t.encode(bad), t.encode("ab\uFFFD\uFFFDcd\uFFFD"));
  EXPECT_EQ(t.decode(t.encode(bad)), "ab\uFFFD\uFFFDcd\uFFFD");
}

TEST(Tokenizer, UnknownIdsDecodeToNothing) {
  EXPECT_EQ(deepseek().decode(std::vector<int32_t>{-5, 1 << 30}), "");
}

TEST(Tokenizer, RoundTripsMixedText) {
  const std::string s = "naïve 😀 深度求索 x=1+2; <｜User｜> tabs\t\n end";
  EXPECT_EQ(deepseek().decode(deepseek().encode(s)), s);
}

// A 1 MB single "word" stays near-linear (priority-queue merging).
TEST(Tokenizer, HugeWordIsFast) {
  const std::string word(1 << 20, 'a');
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = deepseek().encode(word);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(deepseek().decode(ids), word);
  EXPECT_LT(ids.size(), word.size() / 2);
  EXPECT_LT(secs, 30.0) << "quadratic merging?";  // generous: sanitizer builds are slow
}

TEST(Tokenizer, BadFilesAreErrors) {
  EXPECT_FALSE(text::Tokenizer::load("/nonexistent/tokenizer.json").ok());
  auto r = text::Tokenizer::parse("{\"model\": {\"type\": \"Unigram\"}}", "t.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("Unigram"), std::string::npos);
  auto r2 = text::Tokenizer::parse("{\"model\": 3}", "t.json");
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.error().message.find("t.json"), std::string::npos);
  EXPECT_FALSE(text::Tokenizer::parse("not json", "t.json").ok());
  auto r3 = text::Tokenizer::parse(
      R"({"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]},"pre_tokenizer":{"type":"ByteLevel"}})", "t.json");
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.error().message.find("merge 0"), std::string::npos) << r3.error().message;
}

// Found by fuzz/fuzz_tokenizer_json: an id that is a float or past int32 was
// converted with undefined behaviour; it is an error naming the token.
TEST(Tokenizer, IdsMustBeIntegersInRange) {
  for (const std::string id : {"5.66667e+21", "1.5", "-3", "2147483648", "1099511627776", "\"7\""}) {
    const std::string vocab = R"({"model":{"type":"BPE","vocab":{"a":0,"zz":)" + id + R"(},"merges":[]},)"
                              R"("pre_tokenizer":{"type":"ByteLevel"}})";
    auto r = text::Tokenizer::parse(vocab, "t.json");
    ASSERT_FALSE(r.ok()) << id;
    EXPECT_NE(r.error().message.find("\"zz\""), std::string::npos) << r.error().message;
  }
  auto added = text::Tokenizer::parse(
      R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"ByteLevel"},)"
      R"("added_tokens":[{"id":1e30,"content":"<x>"}]})",
      "t.json");
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.error().message.find("<x>"), std::string::npos) << added.error().message;
}

// A vocabulary with no tokens can encode nothing: refused at load, not left
// to fail (or index past the tables) at the first request.
TEST(Tokenizer, EmptyVocabularyIsRefused) {
  for (const char* vocab : {R"({})", R"([])"}) {
    const std::string json = std::string(R"({"model":{"type":"BPE","vocab":)") + vocab +
                             R"(,"merges":[]},"pre_tokenizer":{"type":"ByteLevel"},)" +
                             R"("added_tokens":[{"id":0,"content":"<s>","special":true}]})";
    auto r = text::Tokenizer::parse(json, "t.json");
    ASSERT_FALSE(r.ok()) << vocab;
    EXPECT_NE(r.error().message.find("t.json"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("model.vocab"), std::string::npos) << r.error().message;
  }
}

// Ids that are no ids, or so large that the per-id tables would take
// gigabytes, are refused naming the token and the id.
TEST(Tokenizer, BadTokenIdsAreRefused) {
  using nlohmann::json;
  auto tokenizer = [](json vocab, json added) {
    return json{{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}},
                {"pre_tokenizer", {{"type", "ByteLevel"}}},
                {"added_tokens", added}};
  };
  const json none = json::array();
  const std::vector<std::pair<json, std::string>> cases = {
      {tokenizer({{"a", -3}}, none), "-3"},
      {tokenizer({{"a", 2147483647}}, none), "2147483647"},
      {tokenizer({{"a", 1.5}}, none), "1.5"},
      {tokenizer({{"a", 0}}, json::array({{{"id", 4000000000u}, {"content", "<x>"}}})), "4000000000"},
  };
  for (const auto& [j, shown] : cases) {
    auto r = text::Tokenizer::parse(j.dump(), "t.json");
    ASSERT_FALSE(r.ok()) << j.dump();
    EXPECT_NE(r.error().message.find(shown), std::string::npos) << j.dump() << ": " << r.error().message;
  }
}

// A FIFO where tokenizer.json should be is refused at once, not waited on.
TEST(Tokenizer, FifoIsRefusedWithoutBlocking) {
  TempDir d;
  const std::string path = d.file("tokenizer.json");
  ASSERT_TRUE(make_fifo(path));
  auto r = call_beside_fifo(path, [&] { return text::Tokenizer::load(path); });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(path + ": not a regular file"), std::string::npos) << r.error().message;
}

// The streaming detokenizer never emits half a character and its pieces add
// up to the whole decode.
TEST(Utf8Stream, PiecesEqualWholeDecode) {
  const auto& t = deepseek();
  for (const std::string& s : {std::string("Emoji: 😀👍🏽👨‍👩‍👧‍👦🇫🇷 and 深度求索是一家人工智能公司。"),
                              std::string("tail \xe4\xb8"), std::string("\xf0\x9f\x98"), std::string("ok")}) {
    const auto ids = t.encode(s);
    text::Utf8Stream stream;
    std::string streamed;
    for (int32_t id : ids) {
      std::string piece;
      stream.push(t.token_bytes(id), piece);
      EXPECT_TRUE(text::is_valid_utf8(piece));
      streamed += piece;
    }
    stream.finish(streamed);
    EXPECT_EQ(streamed, t.decode(ids)) << s;
  }
}

TEST(Utf8Stream, TokenSplittingACodePoint) {
  // byte-level tokens can end inside a character: find one in the vocabulary
  const auto& t = deepseek();
  const auto ids = t.encode("🇫🇷");
  bool split = false;
  for (int32_t id : ids) split |= !text::is_valid_utf8(t.token_bytes(id));
  ASSERT_TRUE(split) << "expected a token that is part of a character";
  // the flag is two 4-byte characters: after each token the stream has given
  // exactly the characters complete so far, and holds the rest
  const std::string flag = "🇫🇷";
  ASSERT_EQ(flag.size(), 8u);
  text::Utf8Stream stream;
  std::string out;
  std::size_t fed = 0;
  bool held_back = false;
  for (int32_t id : ids) {
    const std::string& bytes = t.token_bytes(id);
    ASSERT_EQ(flag.compare(fed, bytes.size(), bytes), 0) << "the tokens spell the flag";
    fed += bytes.size();
    stream.push(bytes, out);
    EXPECT_EQ(out, flag.substr(0, fed / 4 * 4)) << "after " << fed << " bytes";
    EXPECT_EQ(stream.pending(), fed % 4 != 0);
    held_back |= fed % 4 != 0;
  }
  EXPECT_EQ(fed, flag.size());
  EXPECT_TRUE(held_back) << "some token ended inside a character";
  EXPECT_EQ(out, flag);
}

TEST(Utf8, LossyMatchesMaximalSubpartRule) {
  EXPECT_EQ(text::utf8_lossy("a\x80" "b"), "a\uFFFD" "b");
  EXPECT_EQ(text::utf8_lossy("\xe2\x82"), "\uFFFD");           // truncated 3-byte: one replacement
  EXPECT_EQ(text::utf8_lossy("\xed\xa0\x80"), "\uFFFD\uFFFD\uFFFD");  // surrogate: lead then 2 strays
  EXPECT_EQ(text::utf8_lossy("\xf0\x9f\x98\x80"), "😀");
  EXPECT_EQ(text::utf8_lossy("\xc0\xaf"), "\uFFFD\uFFFD");     // overlong
  text::Utf8Stream s;
  std::string out;
  s.push("\xf0\x9f", out);
  EXPECT_EQ(out, "");
  s.push("\x98\x80!", out);
  EXPECT_EQ(out, "😀!");
}

}  // namespace
}  // namespace dsv3::test
