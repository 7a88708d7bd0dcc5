// Checkpoint directories: shards through the index, MTP layers, and every
// kind of inconsistency between the files, the index and config.json.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/model.h"
#include "support/golden.h"
#include "support/temp_dir.h"

namespace dsv3::test {
namespace {

namespace fs = std::filesystem;

// A writable copy of a reference model.
class CheckpointCopy : public testing::Test {
 protected:
  void copy(const std::string& name) {
    for (const auto& e : fs::directory_iterator(model_dir(name))) fs::copy(e.path(), dir_.path() / e.path().filename());
  }
  std::string shard_of(const std::string& tensor) {
    auto idx = read_json(dir_.file("model.safetensors.index.json"));
    return idx["weight_map"][tensor].get<std::string>();
  }
  // Rewrites the shard holding `tensor` through edit(name, shape) -> keep?
  template <class F>
  void rewrite_shard_of(const std::string& tensor, F&& edit) {
    const std::string path = dir_.file(shard_of(tensor));
    const std::string tmp = path + ".new";
    {
      auto f = SafetensorsFile::open(path);
      ASSERT_TRUE(f.ok());
      std::vector<TensorToWrite> out;
      for (const auto& [name, v] : f->tensors()) {
        TensorToWrite w{name, v.dtype, v.shape, v.data};
        if (edit(w)) out.push_back(w);
      }
      ASSERT_TRUE(write_safetensors(tmp, out).ok());
    }
    fs::rename(tmp, path);
  }
  Error load_error() {
    auto m = Model::load(dir_.path().string());
    EXPECT_FALSE(m.ok());
    return m.ok() ? Error{""} : m.error();
  }
  TempDir dir_;
};

bool mentions(const Error& e, const std::string& s) { return e.message.find(s) != std::string::npos; }

TEST_F(CheckpointCopy, ShardedFp8LoadsWithMtp) {
  copy("tiny-fp8");
  auto m = Model::load(dir_.path().string());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->checkpoint.file_count(), 3u);
  EXPECT_EQ((*m)->weights.layers.size(), 4u);
  ASSERT_EQ((*m)->weights.mtp.size(), 1u);  // model.layers.4.* recognised, not part of the main stack
  EXPECT_EQ((*m)->weights.mtp[0].eh_proj.rows, 256);
  const auto& kvb = (*m)->weights.layers[0].attn.kv_b;
  EXPECT_EQ(kvb.dtype, DType::F8_E4M3);
  EXPECT_EQ(kvb.scale_cols, 2);  // 160 columns: one full and one partial block
}

TEST_F(CheckpointCopy, SingleFileCheckpoint) {
  // merge the tiny model's shards into one model.safetensors
  std::vector<SafetensorsFile> files;
  std::vector<TensorToWrite> all;
  for (const auto& e : fs::directory_iterator(model_dir("tiny"))) {
    if (e.path().extension() != ".safetensors") {
      if (e.path().filename() != "model.safetensors.index.json") fs::copy(e.path(), dir_.path() / e.path().filename());
      continue;
    }
    auto f = SafetensorsFile::open(e.path().string());
    ASSERT_TRUE(f.ok());
    files.push_back(std::move(f).value());
  }
  for (const auto& f : files)
    for (const auto& [name, v] : f.tensors()) all.push_back({name, v.dtype, v.shape, v.data});
  ASSERT_TRUE(write_safetensors(dir_.file("model.safetensors"), all).ok());
  auto m = Model::load(dir_.path().string());
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->checkpoint.file_count(), 1u);
}

TEST_F(CheckpointCopy, IndexNamesMissingShard) {
  copy("tiny-fp8");
  fs::remove(dir_.path() / "model-00003-of-00003.safetensors");
  const Error e = load_error();
  EXPECT_TRUE(mentions(e, "model-00003-of-00003.safetensors")) << e.message;
  EXPECT_TRUE(mentions(e, "missing")) << e.message;
}

TEST_F(CheckpointCopy, MissingTensor) {
  copy("tiny-fp8");
  const std::string victim = "model.layers.2.mlp.experts.5.up_proj.weight";
  const std::string shard = shard_of(victim);
  rewrite_shard_of(victim, [&](TensorToWrite& w) { return w.name != victim; });
  const Error e = load_error();
  EXPECT_TRUE(mentions(e, victim)) << e.message;
  EXPECT_TRUE(mentions(e, shard)) << e.message;  // the index still lists it there
}

TEST_F(CheckpointCopy, MissingTensorWithoutIndexEntry) {
  copy("tiny");
  const std::string victim = "model.layers.1.self_attn.kv_b_proj.weight";
  rewrite_shard_of(victim, [&](TensorToWrite& w) { return w.name != victim; });
  // drop it from the index too: the binder must still name it
  auto idx = read_json(dir_.file("model.safetensors.index.json"));
  idx["weight_map"].erase(victim);
  write_file(dir_.file("model.safetensors.index.json"), idx.dump());
  const Error e = load_error();
  EXPECT_TRUE(mentions(e, "missing tensor " + victim)) << e.message;
}

TEST_F(CheckpointCopy, WrongShapeForConfig) {
  copy("tiny-fp8");
  const std::string victim = "model.layers.1.self_attn.o_proj.weight";  // [256, 128]
  rewrite_shard_of(victim, [&](TensorToWrite& w) {
    if (w.name == victim) w.shape = {128, 256};
    return true;
  });
  const Error e = load_error();
  EXPECT_TRUE(mentions(e, victim)) << e.message;
  EXPECT_TRUE(mentions(e, "[128, 256] != expected [256, 128]")) << e.message;
  EXPECT_TRUE(mentions(e, ".safetensors")) << e.message;
}

TEST_F(CheckpointCopy, WrongFp8ScaleShape) {
  copy("tiny-fp8");
  const std::string victim = "model.layers.0.mlp.down_proj.weight_scale_inv";  // [2, 3]
  rewrite_shard_of(victim, [&](TensorToWrite& w) {
    if (w.name == victim) w.shape = {3, 2};
    return true;
  });
  const Error e = load_error();
  EXPECT_TRUE(mentions(e, victim)) << e.message;
}

TEST_F(CheckpointCopy, MissingFp8Scale) {
  copy("tiny-fp8");
  const std::string victim = "model.layers.3.self_attn.q_b_proj.weight_scale_inv";
  rewrite_shard_of(victim, [&](TensorToWrite& w) { return w.name != victim; });
  auto idx = read_json(dir_.file("model.safetensors.index.json"));
  idx["weight_map"].erase(victim);
  write_file(dir_.file("model.safetensors.index.json"), idx.dump());
  EXPECT_TRUE(mentions(load_error(), victim));
}

TEST_F(CheckpointCopy, WrongDtypeForWeight) {
  copy("tiny-fp8");
  const std::string victim = "model.layers.1.mlp.shared_experts.gate_proj.weight";  // F8 [192, 256]
  rewrite_shard_of(victim, [&](TensorToWrite& w) {
    if (w.name == victim) w.dtype = DType::U8;
    return true;
  });
  const Error e = load_error();
  EXPECT_TRUE(mentions(e, victim)) << e.message;
  EXPECT_TRUE(mentions(e, "U8")) << e.message;
}

TEST_F(CheckpointCopy, CorruptShardNamesFile) {
  copy("tiny");
  const std::string shard = dir_.file("model-00002-of-00003.safetensors");
  std::string bytes = read_file(shard);
  bytes.resize(bytes.size() / 2);  // truncated download
  write_file(shard, bytes);
  const Error e = load_error();
  EXPECT_TRUE(mentions(e, "model-00002-of-00003.safetensors")) << e.message;
}

TEST_F(CheckpointCopy, IndexNotJson) {
  copy("tiny");
  write_file(dir_.file("model.safetensors.index.json"), "{\"weight_map\": ");
  EXPECT_TRUE(mentions(load_error(), "index.json"));
}

TEST_F(CheckpointCopy, IndexPathEscape) {
  copy("tiny");
  auto idx = read_json(dir_.file("model.safetensors.index.json"));
  idx["weight_map"]["model.norm.weight"] = "../evil.safetensors";
  write_file(dir_.file("model.safetensors.index.json"), idx.dump());
  EXPECT_TRUE(mentions(load_error(), "invalid file"));
}

TEST_F(CheckpointCopy, NoWeights) {
  fs::copy(model_dir("tiny") + "/config.json", dir_.file("config.json"));
  EXPECT_TRUE(mentions(load_error(), "no model.safetensors"));
}

TEST_F(CheckpointCopy, ConfigMissing) {
  copy("tiny");
  fs::remove(dir_.path() / "config.json");
  EXPECT_TRUE(mentions(load_error(), "config.json"));
}

TEST(ModelLoad, MissingDirectory) {
  auto m = Model::load("/nonexistent/dsv3-model");
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(mentions(m.error(), "/nonexistent/dsv3-model"));
}

}  // namespace
}  // namespace dsv3::test
