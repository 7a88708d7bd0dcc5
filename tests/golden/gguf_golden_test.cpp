// GGUF models end to end: the reference checkpoints written by `quantize`
// (llama.cpp's deepseek2 layout: split attn_k_b/attn_v_b, stacked experts,
// the tokenizer in metadata), loaded back through --model FILE.gguf, against
// the goldens; every quant type round-trips to what its quantizer wrote.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "engine/model_text.h"
#include "model/gguf_config.h"
#include "model/gguf_export.h"
#include "model/gguf_writer.h"
#include "model/model.h"
#include "model/transformer.h"
#include "ops/matrix.h"
#include "support/golden.h"
#include "support/reference_checks.h"
#include "support/temp_dir.h"
#include "tensor/ggml_blocks.h"

namespace dsv3 {
namespace {

using test::model_dir;

// One f32 GGUF per reference model, written once per process.
const std::string& f32_gguf(const std::string& name) {
  static test::TempDir dir;
  static std::map<std::string, std::string> made;
  auto it = made.find(name);
  if (it != made.end()) return it->second;
  const std::string out = dir.file(name + "-f32.gguf");
  QuantizeOptions o;
  o.type = "f32";
  o.tokenizer_dir = model_dir("tiny");  // tiny-fp8 ships none
  const Status st = quantize_to_gguf(model_dir(name), out, o);
  EXPECT_TRUE(st.ok()) << st.error().message;
  return made[name] = out;
}

class GgufGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufGolden, EveryPromptMatchesTheReference) {
  auto m = Model::load(f32_gguf(GetParam()));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE((*m)->weights.layers[0].attn.split_kv_b);  // read as llama.cpp writes MLA
  ThreadPool pool(2);
  Transformer t(**m, &pool);
  const int prompts = test::reference_prompt_count(GetParam());
  ASSERT_GT(prompts, 0);
  for (int p = 0; p < prompts; ++p) EXPECT_LE(test::expect_reference_rows(t, GetParam(), p), test::kExactTolerance);
}

INSTANTIATE_TEST_SUITE_P(Models, GgufGolden, ::testing::Values("tiny", "tiny-fp8"));

TEST(GgufModel, ConfigFromMetadataEqualsTheCheckpointsConfig) {
  for (const std::string name : {"tiny", "tiny-fp8"}) {
    auto hf = load_config(model_dir(name) + "/config.json");
    ASSERT_TRUE(hf.ok());
    auto g = GgufFile::open(f32_gguf(name));
    ASSERT_TRUE(g.ok()) << g.error().message;
    auto c = gguf_config(*g);
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_EQ(c->vocab_size, hf->vocab_size);
    EXPECT_EQ(c->hidden_size, hf->hidden_size);
    EXPECT_EQ(c->num_hidden_layers, hf->num_hidden_layers);
    EXPECT_EQ(c->first_k_dense_replace, hf->first_k_dense_replace);
    EXPECT_EQ(c->q_lora_rank, hf->q_lora_rank);
    EXPECT_EQ(c->kv_lora_rank, hf->kv_lora_rank);
    EXPECT_EQ(c->qk_nope_head_dim, hf->qk_nope_head_dim);
    EXPECT_EQ(c->qk_rope_head_dim, hf->qk_rope_head_dim);
    EXPECT_EQ(c->v_head_dim, hf->v_head_dim);
    EXPECT_EQ(c->n_routed_experts, hf->n_routed_experts);
    EXPECT_EQ(c->n_shared_experts, hf->n_shared_experts);
    EXPECT_EQ(c->num_experts_per_tok, hf->num_experts_per_tok);
    EXPECT_EQ(c->n_group, hf->n_group);
    EXPECT_EQ(c->topk_group, hf->topk_group);
    EXPECT_FLOAT_EQ(c->routed_scaling_factor, hf->routed_scaling_factor);
    EXPECT_EQ(c->norm_topk_prob, hf->norm_topk_prob);
    ASSERT_EQ(c->yarn.has_value(), hf->yarn.has_value());
    if (hf->yarn) {
      EXPECT_FLOAT_EQ(c->yarn->factor, hf->yarn->factor);
      EXPECT_EQ(c->yarn->original_max_positions, hf->yarn->original_max_positions);
      EXPECT_NEAR(c->softmax_scale(), hf->softmax_scale(), 1e-6 * hf->softmax_scale());
    }
    EXPECT_EQ(c->eos_token_ids, hf->eos_token_ids);
    EXPECT_EQ(c->bos_token_id, hf->bos_token_id);
  }
}

TEST(GgufModel, TokenizerFromMetadataMatchesTheGoldens) {
  auto tok = load_tokenizer(f32_gguf("tiny"));
  ASSERT_TRUE(tok.ok()) << tok.error().message;
  const auto j = test::read_json(test::reference_dir() + "/goldens/tokenizer/shared.json");
  int checked = 0;
  for (const auto& c : j.at("encode")) {
    const std::vector<int32_t> want = c.at("ids").get<std::vector<int32_t>>();
    EXPECT_EQ((*tok)->encode(c.at("text").get<std::string>()), want) << c.at("text");
    EXPECT_EQ((*tok)->decode(want), c.at("decoded").get<std::string>());
    ++checked;
  }
  EXPECT_GE(checked, 20);
  EXPECT_TRUE((*tok)->is_special(0));  // <｜begin▁of▁sentence｜>: a control token
}

TEST(GgufModel, ChatTemplateFromMetadataRendersAsTheCheckpoints) {
  auto from_gguf = load_chat_template(f32_gguf("tiny"));
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.error().message;
  auto from_dir = load_chat_template(model_dir("tiny"));
  ASSERT_TRUE(from_dir.ok());
  const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(
      R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"2+2?"}])");
  auto a = from_gguf->render(messages, true);
  auto b = from_dir->render(messages, true);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(a->find("<｜begin▁of▁sentence｜>"), std::string::npos);
}

// Every matrix of every quant type reads back as exactly what the quantizer
// made of the source row (and the recipe gave each tensor a type).
class GgufRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(GgufRoundTrip, MatricesReadBackAsQuantized) {
  test::TempDir dir;
  const std::string out = dir.file("m.gguf");
  QuantizeOptions o;
  o.type = GetParam();
  o.tokenizer_dir = model_dir("tiny");
  const Status st = quantize_to_gguf(model_dir("tiny-fp8"), out, o);
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto g = Model::load(out);
  ASSERT_TRUE(g.ok()) << g.error().message;
  // the plan from config.json alone (quantize --dry-run) is the file's tensor bytes
  auto plan = plan_quantization((*g)->config, o);
  ASSERT_TRUE(plan.ok());
  uint64_t bytes = 0;
  for (const GgufTensor& t : (*g)->checkpoint.gguf()->tensors()) bytes += t.bytes;
  EXPECT_EQ(static_cast<uint64_t>(plan->bytes), bytes);
  auto src = Model::load(model_dir("tiny-fp8"));
  ASSERT_TRUE(src.ok());
  const auto check = [&](const ops::Matrix& want, const ops::Matrix& got, const std::string& what) {
    ASSERT_EQ(want.rows, got.rows) << what;
    ASSERT_EQ(want.cols, got.cols) << what;
    std::vector<float> row(want.cols), expect(want.cols), have(want.cols);
    std::vector<uint8_t> q(static_cast<std::size_t>(dtype_row_bytes(got.dtype, got.cols)) + 4);
    for (int64_t r = 0; r < want.rows; ++r) {
      ops::dequantize_row(want, r, row.data());
      if (is_block_format(got.dtype)) {
        quantize_blocks(got.dtype, row.data(), q.data(), want.cols);
        dequantize_blocks(got.dtype, q.data(), expect.data(), want.cols);
      } else {
        expect = row;
        if (got.dtype == DType::F16)
          for (float& v : expect) v = f16_to_f32(f32_to_f16(v));
        if (got.dtype == DType::BF16)
          for (float& v : expect) v = bf16_to_f32(f32_to_bf16(v));
      }
      ops::dequantize_row(got, r, have.data());
      for (int64_t j = 0; j < want.cols; ++j) ASSERT_EQ(have[j], expect[j]) << what << " row " << r << " col " << j;
    }
  };
  const Weights& a = (*src)->weights;
  const Weights& b = (*g)->weights;
  check(a.embed, b.embed, "embed");
  check(a.lm_head, b.lm_head, "lm_head");
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    check(a.layers[l].attn.q_b, b.layers[l].attn.q_b, "q_b");
    check(a.layers[l].attn.o, b.layers[l].attn.o, "o_proj");
    if (a.layers[l].is_moe) {
      for (std::size_t e = 0; e < a.layers[l].moe.experts.size(); ++e)
        check(a.layers[l].moe.experts[e].down, b.layers[l].moe.experts[e].down, "expert down");
      check(a.layers[l].moe.router, b.layers[l].moe.router, "router");
      EXPECT_EQ(b.layers[l].moe.router.dtype, DType::F32);  // routing stays exact
    }
  }
  // the model runs: finite logits for a prompt
  ThreadPool pool(2);
  Transformer t(**g, &pool);
  std::vector<float> last;
  test::for_each_logits_row(t, {0, 5, 9, 13}, 0, [&](int64_t, const float* row) {
    last.assign(row, row + (*g)->config.vocab_size);
  });
  for (float v : last) ASSERT_TRUE(std::isfinite(v));
}

INSTANTIATE_TEST_SUITE_P(Types, GgufRoundTrip, ::testing::ValuesIn(quantize_types()));

TEST(GgufQuantize, RecipesFollowLlamaCppsMixes) {
  auto t = [](const char* recipe, const char* name, int64_t layer, int64_t cols = 2048) {
    return recipe_type(recipe, name, layer, 61, cols).value();
  };
  EXPECT_EQ(t("q4_k_m", "output.weight", -1), DType::Q6_K);
  EXPECT_EQ(t("q4_k_m", "blk.0.ffn_down_exps.weight", 0), DType::Q6_K);   // first eighth: more bits
  EXPECT_EQ(t("q4_k_m", "blk.10.ffn_down_exps.weight", 10), DType::Q4_K);
  EXPECT_EQ(t("q4_k_m", "blk.10.ffn_gate_exps.weight", 10), DType::Q4_K);
  EXPECT_EQ(t("q4_k_m", "blk.10.attn_k_b.weight", 10, 128), DType::Q4_0);  // 128 columns: no 256-block
  EXPECT_EQ(t("q6_k", "blk.3.attn_k_b.weight", 3, 128), DType::Q8_0);
  EXPECT_EQ(t("q8_0", "blk.3.attn_q_b.weight", 3, 24), DType::F16);         // not even a 32-block
  EXPECT_EQ(t("q2_k", "blk.3.ffn_up_exps.weight", 3), DType::Q2_K);
  EXPECT_EQ(t("q2_k", "blk.3.attn_q_b.weight", 3), DType::Q4_K);
  EXPECT_FALSE(recipe_type("q9_x", "output.weight", -1, 61, 2048).ok());
}

TEST(GgufQuantize, BadInputIsRefusedByName) {
  test::TempDir dir;
  QuantizeOptions o;
  o.type = "q7_0";
  auto st = quantize_to_gguf(model_dir("tiny"), dir.file("x.gguf"), o);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("q7_0"), std::string::npos);
  o.type = "q8_0";
  o.keep = {""};
  st = quantize_to_gguf(model_dir("tiny"), dir.file("x.gguf"), o);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("--keep"), std::string::npos);
  o.keep = {};
  st = quantize_to_gguf(dir.file("nowhere"), dir.file("x.gguf"), o);
  ASSERT_FALSE(st.ok());
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.gguf")));
}

TEST(GgufQuantize, KeepLeavesMatchingTensorsUnquantized) {
  test::TempDir dir;
  QuantizeOptions o;
  o.type = "q8_0";
  o.keep = {"blk.*.attn_*"};
  ASSERT_TRUE(quantize_to_gguf(model_dir("tiny"), dir.file("k.gguf"), o).ok());
  auto m = Model::load(dir.file("k.gguf"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->weights.layers[1].attn.q_b.dtype, DType::BF16);  // tiny stores bf16
  EXPECT_EQ((*m)->weights.layers[1].moe.experts[0].up.dtype, DType::Q8_0);
}

// A GGUF file read from a real IQ quant: tiny's routed gate/up experts
// re-stored as IQ4_NL blocks (the Q8_0 scale kept, 4-bit indices into the
// non-linear table), everything else as quantize wrote it. The model loads,
// reports the type, and runs to finite logits through the IQ kernels.
TEST(GgufModel, IqTypedExpertsLoadAndRun) {
  test::TempDir dir;
  QuantizeOptions o;
  o.type = "q8_0";
  ASSERT_TRUE(quantize_to_gguf(model_dir("tiny"), dir.file("q8.gguf"), o).ok());
  auto src = GgufFile::open(dir.file("q8.gguf"));
  ASSERT_TRUE(src.ok());
  auto w = GgufWriter::create(dir.file("iq.gguf"));
  ASSERT_TRUE(w.ok());
  for (const auto& [key, v] : src->metadata()) {
    if (v.is_string()) w->add_string(key, v.get<std::string>());
    else if (v.is_boolean()) w->add_bool(key, v.get<bool>());
    else if (v.is_number_unsigned()) w->add_u32(key, v.get<uint32_t>());
    else if (v.is_number_integer()) w->add_i32(key, v.get<int32_t>());
    else if (v.is_number_float()) w->add_f32(key, v.get<float>());
    else if (v.is_array() && !v.empty() && v[0].is_string()) w->add_strings(key, v.get<std::vector<std::string>>());
    else if (v.is_array()) w->add_i32s(key, v.get<std::vector<int32_t>>());
  }
  const auto iq = [](const GgufTensor& t) {
    return t.type->id == 8 && (t.name.find("ffn_gate_exps") != std::string::npos || t.name.find("ffn_up_exps") != std::string::npos);
  };
  std::vector<std::vector<uint8_t>> data;
  uint32_t seed = 1;
  for (const GgufTensor& t : src->tensors()) {
    std::vector<uint8_t> bytes(reinterpret_cast<const uint8_t*>(t.data), reinterpret_cast<const uint8_t*>(t.data) + t.bytes);
    uint32_t type = t.type->id;
    if (iq(t)) {  // 34-byte Q8_0 blocks -> 18-byte IQ4_NL blocks {f16 d; 16 bytes of index pairs}
      std::vector<uint8_t> out;
      for (std::size_t b = 0; b < bytes.size(); b += 34) {
        out.insert(out.end(), bytes.begin() + b, bytes.begin() + b + 2);
        for (int j = 0; j < 16; ++j) out.push_back(static_cast<uint8_t>((seed = seed * 1664525u + 1013904223u) >> 24));
      }
      bytes = std::move(out);
      type = 20;  // IQ4_NL
    }
    w->add_tensor(t.name, t.dims, type, bytes.size());
    data.push_back(std::move(bytes));
  }
  ASSERT_TRUE(w->write_header().ok());
  for (const auto& d : data) ASSERT_TRUE(w->append(d.data(), d.size()).ok());
  ASSERT_TRUE(w->close().ok());
  auto m = Model::load(dir.file("iq.gguf"));
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->weights.layers[1].moe.experts[3].gate.dtype, DType::IQ4_NL);
  EXPECT_EQ((*m)->weights.layers[1].moe.experts[3].down.dtype, DType::F16);  // 24 wide: f16 in the q8_0 recipe
  ThreadPool pool(2);
  Transformer t(**m, &pool);
  int64_t rows = 0;
  test::for_each_logits_row(t, {0, 5, 9, 13, 17}, 0, [&](int64_t, const float* row) {
    for (int64_t j = 0; j < (*m)->config.vocab_size; ++j) ASSERT_TRUE(std::isfinite(row[j]));
    ++rows;
  });
  EXPECT_EQ(rows, 5);
}

}  // namespace
}  // namespace dsv3
