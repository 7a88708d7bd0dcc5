// The GGUF model loader's refusals and split sets, on small files made with
// the GGUF writer.
#include <gtest/gtest.h>

#include "model/checkpoint.h"
#include "model/gguf_config.h"
#include "model/gguf_writer.h"
#include "model/model.h"
#include "support/temp_dir.h"

namespace dsv3 {
namespace {

// A file with the given metadata and one f32 tensor per name ([4] each).
void write(const std::string& path, const std::function<void(GgufWriter&)>& meta,
           const std::vector<std::pair<std::string, uint32_t>>& tensors) {
  auto w = GgufWriter::create(path);
  ASSERT_TRUE(w.ok());
  meta(*w);
  std::vector<uint8_t> bytes;
  for (const auto& [name, type] : tensors) {
    const uint64_t n = type == 0 ? 16 : 292;  // 4 f32, or one 256-element Q8_K block (not a weight type)
    w->add_tensor(name, {type == 0 ? 4u : 256u}, type, n);
    bytes.resize(bytes.size() + n);
  }
  ASSERT_TRUE(w->write_header().ok());
  ASSERT_TRUE(w->append(bytes.data(), bytes.size()).ok());
  ASSERT_TRUE(w->close().ok());
}

void minimal_metadata(GgufWriter& w) {
  w.add_string("general.architecture", "deepseek2");
  w.add_u32("deepseek2.block_count", 1);
  w.add_u32("deepseek2.embedding_length", 32);
  w.add_u32("deepseek2.feed_forward_length", 64);
  w.add_u32("deepseek2.attention.head_count", 2);
  w.add_u32("deepseek2.attention.kv_lora_rank", 16);
  w.add_u32("deepseek2.rope.dimension_count", 8);
  w.add_u32("deepseek2.attention.key_length_mla", 24);
  w.add_u32("deepseek2.attention.value_length_mla", 16);
  w.add_u32("deepseek2.vocab_size", 100);
}

TEST(GgufLoader, ConfigFromMinimalMetadata) {
  test::TempDir d;
  write(d.file("m.gguf"), minimal_metadata, {{"token_embd.weight", 0}});
  auto f = GgufFile::open(d.file("m.gguf"));
  ASSERT_TRUE(f.ok());
  auto c = gguf_config(*f);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->qk_nope_head_dim, 16);
  EXPECT_EQ(c->v_head_dim, 16);
  EXPECT_EQ(c->q_lora_rank, 0);
  EXPECT_EQ(c->n_routed_experts, 0);
  EXPECT_TRUE(c->tie_word_embeddings);  // no output.weight
}

TEST(GgufLoader, RefusalsNameTheKeyOrTensor) {
  test::TempDir d;
  write(d.file("llama.gguf"), [](GgufWriter& w) { w.add_string("general.architecture", "llama"); }, {});
  auto m = Model::load(d.file("llama.gguf"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("\"llama\" is not supported"), std::string::npos) << m.error().message;

  write(d.file("nokey.gguf"), [](GgufWriter& w) { w.add_string("general.architecture", "deepseek2"); }, {});
  m = Model::load(d.file("nokey.gguf"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("deepseek2.block_count"), std::string::npos) << m.error().message;

  write(d.file("q8k.gguf"), minimal_metadata, {{"blk.0.ffn_down.weight", 15}});
  m = Model::load(d.file("q8k.gguf"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("blk.0.ffn_down.weight"), std::string::npos) << m.error().message;
  EXPECT_NE(m.error().message.find("Q8_K"), std::string::npos) << m.error().message;

  write(d.file("missing.gguf"), minimal_metadata, {{"token_embd.weight", 0}});
  m = Model::load(d.file("missing.gguf"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("model.embed_tokens.weight"), std::string::npos) << m.error().message;

  auto bad = [](GgufWriter& w) {
    minimal_metadata(w);
    w.add_string("deepseek2.rope.scaling.type", "longrope");
  };
  write(d.file("rope.gguf"), bad, {});
  m = Model::load(d.file("rope.gguf"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("longrope"), std::string::npos) << m.error().message;
}

TEST(GgufLoader, SplitSetsOpenEveryPart) {
  test::TempDir d;
  write(d.file("m-00001-of-00002.gguf"), minimal_metadata, {{"output_norm.weight", 0}});
  write(d.file("m-00002-of-00002.gguf"), [](GgufWriter&) {}, {{"blk.0.attn_norm.weight", 0}});
  for (const char* part : {"m-00001-of-00002.gguf", "m-00002-of-00002.gguf"}) {
    auto c = Checkpoint::open_gguf(d.file(part));
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->file_count(), 2u);
    EXPECT_NE(c->find("model.norm.weight"), nullptr);
    EXPECT_NE(c->find("model.layers.0.input_layernorm.weight"), nullptr);
    ASSERT_NE(c->gguf(), nullptr);
    EXPECT_NE(c->gguf()->find_key("deepseek2.block_count"), nullptr);  // the first part's metadata
  }
  write(d.file("x-00001-of-00003.gguf"), minimal_metadata, {});
  auto c = Checkpoint::open_gguf(d.file("x-00001-of-00003.gguf"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("x-00002-of-00003.gguf"), std::string::npos) << c.error().message;
}

// ggml's IQ type ids to dsv3's dtypes, the sizes from the GGUF reader's table.
TEST(GgufLoader, IqTensorsMapToTheirDtypes) {
  const std::pair<uint32_t, DType> ids[] = {{16, DType::IQ2_XXS}, {17, DType::IQ2_XS}, {18, DType::IQ3_XXS},
                                            {19, DType::IQ1_S},   {20, DType::IQ4_NL}, {21, DType::IQ3_S},
                                            {22, DType::IQ2_S},   {23, DType::IQ4_XS}, {29, DType::IQ1_M}};
  test::TempDir d;
  for (auto [id, dt] : ids) {
    const uint64_t bytes = static_cast<uint64_t>(dtype_row_bytes(dt, 512));
    {
      auto w = GgufWriter::create(d.file("iq.gguf"));
      ASSERT_TRUE(w.ok());
      minimal_metadata(*w);
      w->add_tensor("output_norm.weight", {512}, id, bytes);
      ASSERT_TRUE(w->write_header().ok());
      const std::vector<uint8_t> zeros(bytes);
      ASSERT_TRUE(w->append(zeros.data(), zeros.size()).ok());
      ASSERT_TRUE(w->close().ok());
    }
    auto c = Checkpoint::open_gguf(d.file("iq.gguf"));
    ASSERT_TRUE(c.ok()) << dtype_name(dt) << ": " << c.error().message;
    const TensorView* t = c->find("model.norm.weight");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, dt) << id;
    EXPECT_EQ(t->nbytes, bytes) << id;
  }
}

TEST(GgufLoader, WriterRefusesShortData) {
  test::TempDir d;
  auto w = GgufWriter::create(d.file("s.gguf"));
  ASSERT_TRUE(w.ok());
  w->add_tensor("a", {4}, 0, 16);
  ASSERT_TRUE(w->write_header().ok());
  const float half[2] = {1, 2};
  ASSERT_TRUE(w->append(half, sizeof half).ok());
  EXPECT_FALSE(w->close().ok());
}

}  // namespace
}  // namespace dsv3
