// The GGUF container reader: a file built here with metadata of every value
// type and tensors of several ggml types reads back exactly; every kind of
// corruption (every truncation, bad counts, lengths, types, offsets,
// overlaps, duplicates, alignment) is an error naming what is wrong.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace dsv3::test {
namespace {

// Writes GGUF bytes piece by piece.
class GgufBuilder {
 public:
  template <class T>
  GgufBuilder& put(T v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    bytes.append(p, sizeof(T));
    return *this;
  }
  GgufBuilder& str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes += s;
    return *this;
  }
  GgufBuilder& header(uint32_t version, uint64_t tensors, uint64_t keys) {
    bytes += "GGUF";
    return put(version).put(tensors).put(keys);
  }
  GgufBuilder& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    str(name).put<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) put(d);
    return put(type).put(offset);
  }
  GgufBuilder& pad(std::size_t alignment) {
    while (bytes.size() % alignment) bytes += '\0';
    return *this;
  }
  GgufBuilder& data(std::size_t n, char fill) {
    bytes.append(n, fill);
    return *this;
  }
  std::string bytes;
};

// The image must outlive the result (its views point into it).
Result<GgufFile> parse(const std::string& bytes) {
  return GgufFile::parse({reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()}, "test.gguf");
}

// Metadata of every type, an F32 tensor [3, 2] and a Q8_0 tensor [64].
std::string good_file() {
  GgufBuilder b;
  b.header(3, 2, 9);
  b.str("general.architecture").put<uint32_t>(8).str("deepseek2");
  b.str("u8").put<uint32_t>(0).put<uint8_t>(200);
  b.str("i16").put<uint32_t>(3).put<int16_t>(-300);
  b.str("u32").put<uint32_t>(4).put<uint32_t>(4000000000u);
  b.str("f32").put<uint32_t>(6).put<float>(0.5f);
  b.str("flag").put<uint32_t>(7).put<uint8_t>(1);
  b.str("i64").put<uint32_t>(11).put<int64_t>(-5);
  b.str("f64").put<uint32_t>(12).put<double>(2.25);
  b.str("tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(2).str("a").str("bc");
  b.tensor("w", {3, 2}, 0, 0);
  b.tensor("q", {64}, 8, 32);  // F32 [3, 2]: 24 bytes, then the next multiple of 32
  b.pad(32);
  b.data(24, '\1').data(8, '\0').data(68, '\2');
  return b.bytes;
}

TEST(Gguf, ReadsMetadataAndTensors) {
  const std::string bytes = good_file();  // the views point into it
  auto g = parse(bytes);
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->version(), 3u);
  EXPECT_EQ(g->alignment(), 32u);
  EXPECT_EQ(*g->find_key("general.architecture"), "deepseek2");
  EXPECT_EQ(*g->find_key("u8"), 200);
  EXPECT_EQ(*g->find_key("i16"), -300);
  EXPECT_EQ(*g->find_key("u32"), 4000000000u);
  EXPECT_EQ(*g->find_key("f32"), 0.5);
  EXPECT_EQ(*g->find_key("flag"), true);
  EXPECT_EQ(*g->find_key("i64"), -5);
  EXPECT_EQ(*g->find_key("f64"), 2.25);
  EXPECT_EQ(*g->find_key("tokens"), nlohmann::json::array({"a", "bc"}));
  EXPECT_EQ(g->find_key("missing"), nullptr);
  ASSERT_EQ(g->tensors().size(), 2u);
  const GgufTensor* w = g->find_tensor("w");
  ASSERT_NE(w, nullptr);
  EXPECT_STREQ(w->type->name, "F32");
  EXPECT_EQ(w->elements(), 6u);
  EXPECT_EQ(w->bytes, 24u);
  EXPECT_EQ(static_cast<char>(w->data[0]), '\1');
  const GgufTensor* q = g->find_tensor("q");
  ASSERT_NE(q, nullptr);
  EXPECT_STREQ(q->type->name, "Q8_0");
  EXPECT_EQ(q->bytes, 68u);  // two blocks of 34
  EXPECT_EQ(static_cast<char>(q->data[0]), '\2');
  EXPECT_EQ(q->data - w->data, 32);
}

TEST(Gguf, KnowsTheBlockSizesOfItsTypes) {
  EXPECT_EQ(ggml_type(12)->bytes, 144u);  // Q4_K
  EXPECT_EQ(ggml_type(14)->bytes, 210u);  // Q6_K
  EXPECT_EQ(ggml_type(10)->block, 256u);  // Q2_K
  EXPECT_EQ(ggml_type(30)->bytes, 2u);    // BF16
  EXPECT_EQ(ggml_type(4), nullptr);       // retired
  EXPECT_EQ(ggml_type(1000), nullptr);
}

// Every prefix of a good file is an error, never a crash or an over-read.
TEST(Gguf, EveryTruncationIsAnError) {
  const std::string good = good_file();
  for (std::size_t n = 0; n < good.size(); ++n) {
    std::vector<char> copy(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));  // exactly n bytes: ASan sees over-reads
    auto g = GgufFile::parse({reinterpret_cast<const std::byte*>(copy.data()), copy.size()}, "cut.gguf");
    EXPECT_FALSE(g.ok()) << n << " bytes";
    if (!g.ok()) {
      EXPECT_NE(g.error().message.find("cut.gguf"), std::string::npos) << g.error().message;
    }
  }
}

void expect_error(const std::string& bytes, const std::string& words) {
  auto g = parse(bytes);
  ASSERT_FALSE(g.ok()) << "expected an error with \"" << words << "\"";
  EXPECT_NE(g.error().message.find(words), std::string::npos) << g.error().message;
}

TEST(Gguf, BrokenHeadersAreErrorsThatSayWhat) {
  expect_error("GGML" + good_file().substr(4), "not a GGUF file");
  {
    GgufBuilder b;
    b.header(1, 0, 0);
    expect_error(b.bytes, "version 1 is not supported");
  }
  {
    GgufBuilder b;
    b.header(3, 0, uint64_t{1} << 60);
    expect_error(b.bytes, "metadata keys cannot fit");
  }
  {
    GgufBuilder b;
    b.header(3, uint64_t{1} << 60, 0);
    expect_error(b.bytes, "tensors cannot fit");
  }
  {
    GgufBuilder b;
    b.header(3, 0, 1).str("k").put<uint32_t>(8).put<uint64_t>(uint64_t{1} << 40);
    expect_error(b.bytes, "more than the 1 GiB allowed");
  }
  {
    GgufBuilder b;
    b.header(3, 0, 1).str("k").put<uint32_t>(8).put<uint64_t>(100).data(10, 'x');
    expect_error(b.bytes, "past the end of the file");
  }
  {
    GgufBuilder b;
    b.header(3, 0, 1).str("k").put<uint32_t>(77);
    expect_error(b.bytes, "key k: unknown value type 77");
  }
  {
    GgufBuilder b;
    b.header(3, 0, 1).str("k").put<uint32_t>(9).put<uint32_t>(4).put<uint64_t>(uint64_t{1} << 50);
    expect_error(b.bytes, "array items cannot fit");
  }
  {
    GgufBuilder b;  // arrays of arrays of ... deeper than allowed
    b.header(3, 0, 1).str("k").put<uint32_t>(9);
    for (int i = 0; i < 6; ++i) b.put<uint32_t>(9).put<uint64_t>(1);
    b.put<uint32_t>(0);
    expect_error(b.bytes, "arrays nested deeper");
  }
  {
    GgufBuilder b;
    b.header(3, 0, 1).str("flag").put<uint32_t>(7).put<uint8_t>(2);
    expect_error(b.bytes, "neither 0 nor 1");
  }
  {
    GgufBuilder b;
    b.header(3, 0, 2).str("k").put<uint32_t>(0).put<uint8_t>(1).str("k").put<uint32_t>(0).put<uint8_t>(2);
    expect_error(b.bytes, "key k appears twice");
  }
  {
    GgufBuilder b;
    b.header(3, 0, 1).str("general.alignment").put<uint32_t>(4).put<uint32_t>(24);
    expect_error(b.bytes, "general.alignment 24 is not a power of two");
  }
  {
    // found by fuzzing: a string that is not UTF-8 in the message made the JSON dump throw
    GgufBuilder b;
    b.header(3, 0, 1).str("general.alignment").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(1).str("\x9e\x9c");
    expect_error(b.bytes, "general.alignment [\"");
  }
}

TEST(Gguf, BrokenTensorsAreErrorsThatSayWhich) {
  auto one = [](std::vector<uint64_t> dims, uint32_t type, uint64_t offset, std::size_t data_bytes) {
    GgufBuilder b;
    b.header(3, 1, 0).tensor("t", std::move(dims), type, offset).pad(32).data(data_bytes, '\0');
    return b.bytes;
  };
  EXPECT_TRUE(parse(one({32}, 8, 0, 34)).ok());
  expect_error(one({}, 0, 0, 0), "tensor t: 0 dimensions");
  expect_error(one({1, 1, 1, 1, 1}, 0, 0, 4), "tensor t: 5 dimensions");
  expect_error(one({4, 0}, 0, 0, 0), "zero or overflowing dimension");
  expect_error(one({uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0, 0), "zero or overflowing dimension");
  expect_error(one({32}, 4, 0, 64), "unknown ggml type 4");
  expect_error(one({48}, 8, 0, 64), "first dimension 48 is not a whole number of Q8_0 blocks of 32");
  expect_error(one({32}, 8, 16, 64), "offset 16 is not a multiple of the alignment 32");
  expect_error(one({32}, 8, 0, 33), "lie outside the data section");
  expect_error(one({32}, 8, 32, 40), "lie outside the data section");
  {
    GgufBuilder b;
    b.header(3, 2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad(32).data(64, '\0');
    expect_error(b.bytes, "tensor b: data overlaps tensor a");
  }
  {
    GgufBuilder b;
    b.header(3, 2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).pad(32).data(64, '\0');
    expect_error(b.bytes, "tensor a appears twice");
  }
}

TEST(Gguf, OpensFilesAndNamesMissingOnes) {
  auto g = GgufFile::open("/nonexistent/model.gguf");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("/nonexistent/model.gguf"), std::string::npos) << g.error().message;
}

}  // namespace
}  // namespace dsv3::test
