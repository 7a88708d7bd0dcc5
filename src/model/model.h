// A loaded checkpoint: config, mapped tensors and the typed weight views.
#pragma once
#include <functional>
#include <memory>
#include <vector>
#include <string>

#include "base/status.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/shard.h"
#include "model/weights.h"

namespace dsv3 {

struct Model {
  ModelConfig config;
  Checkpoint checkpoint;  // owns the mappings the weights point into
  Weights weights;
  std::vector<uint8_t> owned_head;  // lm_head re-stored by --head-dtype, else empty
  Shard shard;                      // the part this process holds (all of it alone)

  // Token ids that end generation: config.json's eos_token_id plus
  // generation_config.json's, when present.
  std::vector<int64_t> eos_token_ids;

  // Loads DIR/config.json and the safetensors beside it, or a GGUF file
  // (a path ending in .gguf; the first part of a split set). progress(done,
  // total) is called as the weight files are opened and checked. A rank of
  // a split job binds only its `shard` of the weights.
  using Progress = std::function<void(std::size_t done, std::size_t total)>;
  static Result<std::unique_ptr<Model>> load(const std::string& dir, const Progress& progress = nullptr,
                                             const Shard& shard = {});
  static Result<std::unique_ptr<Model>> load_gguf(const std::string& path, const Progress& progress = nullptr,
                                                  const Shard& shard = {});
};

// A path naming a GGUF file (not a checkpoint directory).
bool is_gguf_path(const std::string& path);

}  // namespace dsv3
