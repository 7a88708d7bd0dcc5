// Random-weight checkpoints in the Hugging Face layout, for benchmarks:
// DeepSeek-V3's architecture at chosen sizes, bf16 or the official FP8
// layout, deterministic for a seed, written as a stream.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace dsv3 {

struct SynthOptions {
  std::string preset;          // v3-mini, v3-slice, tiny
  std::string dtype = "bf16";  // bf16 or fp8
  int64_t layers = -1;         // -1: the preset's
  uint64_t seed = 0;
  std::string out;             // directory to create
  std::string tokenizer_dir;   // tokenizer files to copy when the vocabulary is DeepSeek's
  uint64_t shard_bytes = uint64_t{2} << 30;
};

// config.json for a preset.
Result<nlohmann::json> synth_config(const std::string& preset, const std::string& dtype, int64_t layers);

// progress(bytes written, total bytes).
Status write_synthetic_checkpoint(const SynthOptions& o,
                                  const std::function<void(uint64_t, uint64_t)>& progress = nullptr);

}  // namespace dsv3
