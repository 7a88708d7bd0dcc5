#include "model/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "base/fifo_writer.h"

#include "support/golden.h"
#include "support/temp_dir.h"

namespace dsv3::test {
namespace {

nlohmann::json tiny_config() { return read_json(model_dir("tiny") + "/config.json"); }

Error parse_error(const nlohmann::json& j) {
  auto r = parse_config(j.dump(), "config.json");
  EXPECT_FALSE(r.ok());
  return r.ok() ? Error{""} : r.error();
}
bool mentions(const Error& e, const std::string& s) { return e.message.find(s) != std::string::npos; }

TEST(Config, ParsesReferenceModels) {
  auto tiny = load_config(model_dir("tiny") + "/config.json");
  ASSERT_TRUE(tiny.ok()) << tiny.error().message;
  EXPECT_EQ(tiny->hidden_size, 32);
  EXPECT_EQ(tiny->q_lora_rank, 32);
  ASSERT_TRUE(tiny->yarn.has_value());
  EXPECT_EQ(tiny->yarn->factor, 40.0);
  EXPECT_EQ(tiny->fp8_block_rows, 0);
  EXPECT_EQ(tiny->eos_token_ids, std::vector<int64_t>{1});
  // qk_head_dim^-0.5 * (0.1 * ln 40 + 1)^2
  const double m = 0.1 * std::log(40.0) + 1.0;
  EXPECT_NEAR(tiny->softmax_scale(), m * m / std::sqrt(32.0), 1e-12);
  auto fp8 = load_config(model_dir("tiny-fp8") + "/config.json");
  ASSERT_TRUE(fp8.ok()) << fp8.error().message;
  EXPECT_EQ(fp8->fp8_block_rows, 128);
  EXPECT_EQ(fp8->num_nextn_predict_layers, 1);
}

TEST(Config, NullQLoraMeansPlainQProj) {
  auto j = tiny_config();
  j["q_lora_rank"] = nullptr;
  auto c = parse_config(j.dump(), "config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->q_lora_rank, 0);
}

TEST(Config, EachRequiredKeyIsNamedWhenMissing) {
  for (const char* key : {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "kv_lora_rank",
                          "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "q_lora_rank", "num_experts_per_tok",
                          "moe_intermediate_size", "intermediate_size"}) {
    auto j = tiny_config();
    j.erase(key);
    const Error e = parse_error(j);
    EXPECT_TRUE(mentions(e, std::string("\"") + key + "\"")) << key << ": " << e.message;
  }
}

TEST(Config, WrongTypesAreNamed) {
  auto j = tiny_config();
  j["hidden_size"] = "32";
  EXPECT_TRUE(mentions(parse_error(j), "\"hidden_size\" must be an integer"));
  j = tiny_config();
  j["rope_scaling"]["factor"] = "forty";
  EXPECT_TRUE(mentions(parse_error(j), "factor"));
}

TEST(Config, InconsistentValues) {
  auto j = tiny_config();
  j["n_group"] = 3;  // 16 experts in 3 groups
  EXPECT_TRUE(mentions(parse_error(j), "\"n_group\""));
  j = tiny_config();
  j["topk_group"] = 5;
  EXPECT_TRUE(mentions(parse_error(j), "\"topk_group\""));
  j = tiny_config();
  j["num_experts_per_tok"] = 17;
  EXPECT_TRUE(mentions(parse_error(j), "\"num_experts_per_tok\""));
  j = tiny_config();
  j["first_k_dense_replace"] = 9;
  EXPECT_TRUE(mentions(parse_error(j), "\"first_k_dense_replace\""));
  j = tiny_config();
  j["qk_rope_head_dim"] = 15;
  EXPECT_TRUE(mentions(parse_error(j), "\"qk_rope_head_dim\""));
  j = tiny_config();
  j["hidden_size"] = 0;
  EXPECT_TRUE(mentions(parse_error(j), "\"hidden_size\""));
  j = tiny_config();
  j["eos_token_id"] = 200000;
  EXPECT_TRUE(mentions(parse_error(j), "\"eos_token_id\""));
  j = tiny_config();
  j["scoring_func"] = "softmax";
  EXPECT_TRUE(mentions(parse_error(j), "scoring_func"));
  j = tiny_config();
  j["rope_scaling"]["type"] = "dynamic";
  EXPECT_TRUE(mentions(parse_error(j), "rope_scaling"));
  j = tiny_config();
  j["quantization_config"] = {{"quant_method", "fp8"}, {"weight_block_size", {128}}};
  EXPECT_TRUE(mentions(parse_error(j), "weight_block_size"));
  j = tiny_config();
  j["quantization_config"] = {{"quant_method", "awq"}};
  EXPECT_TRUE(mentions(parse_error(j), "quant_method"));
}

TEST(Config, NotJson) {
  auto r = parse_config("{\"hidden_size\": 3", "x/config.json");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r.error(), "x/config.json"));
  auto missing = load_config("/nonexistent/config.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(mentions(missing.error(), "/nonexistent/config.json"));
}

// Values that parse but describe no model: each refused, naming the key and
// the value (they once loaded and failed later, or silently misbehaved).
TEST(Config, OutOfRangeValuesNameTheKeyAndValue) {
  const std::vector<std::tuple<const char*, nlohmann::json, std::string>> cases = {
      {"bos_token_id", -5, "-5"},
      {"bos_token_id", 129280, "129280"},  // vocab_size is 129280
      {"eos_token_id", -1, "-1"},
      {"eos_token_id", nlohmann::json::array({1, 129281}), "129281"},
      {"max_position_embeddings", 0, "0"},
      {"max_position_embeddings", -4096, "-4096"},
      {"max_position_embeddings", nlohmann::json::parse("18446744073709551615"), "18446744073709551615"},
      {"vocab_size", int64_t{1} << 32, "4294967296"},
      {"routed_scaling_factor", 0.0, "0"},
      {"routed_scaling_factor", -2.5, "-2.5"},
      {"kv_lora_rank", 0, "0"},
      {"num_attention_heads", -1, "-1"},
      {"qk_rope_head_dim", 7, "7"},
      {"n_group", 3, "3"},
      {"topk_group", 5, "5"},
      {"num_experts_per_tok", 17, "17"},
  };
  for (const auto& [key, value, shown] : cases) {
    auto j = tiny_config();
    j[key] = value;
    const Error e = parse_error(j);
    EXPECT_TRUE(mentions(e, std::string("\"") + key + "\"")) << key << "=" << value.dump() << ": " << e.message;
    EXPECT_TRUE(mentions(e, shown)) << key << "=" << value.dump() << ": " << e.message;
  }
}

// Absent or null: no BOS, and no known position limit; both load.
TEST(Config, AbsentBosAndPositionLimitStillLoad) {
  auto j = tiny_config();
  j["bos_token_id"] = nullptr;
  j.erase("max_position_embeddings");
  auto c = parse_config(j.dump(), "config.json");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->bos_token_id, -1);
  EXPECT_EQ(c->max_position_embeddings, 0);
  j = tiny_config();
  j.erase("bos_token_id");
  EXPECT_TRUE(parse_config(j.dump(), "config.json").ok());
}

// A FIFO where config.json should be is refused at once, not waited on.
TEST(Config, FifoIsRefusedWithoutBlocking) {
  TempDir d;
  const std::string path = d.file("config.json");
  ASSERT_TRUE(make_fifo(path));
  auto r = call_beside_fifo(path, [&] { return load_config(path); });
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(mentions(r.error(), path + ": not a regular file")) << r.error().message;
}

}  // namespace
}  // namespace dsv3::test
