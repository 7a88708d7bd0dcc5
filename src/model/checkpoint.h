// The mapped tensors of a model, by their Hugging Face names: a checkpoint
// directory (config.json plus one model.safetensors or shards listed by
// model.safetensors.index.json), or a GGUF file (or the first of a split
// set) whose llama.cpp `deepseek2` tensors are viewed under those names.
#pragma once
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/config.h"
#include "model/gguf.h"
#include "model/safetensors.h"

namespace dsv3 {

class Checkpoint {
 public:
  // progress(done, total) after each file is opened and checked.
  static Result<Checkpoint> open(const std::string& dir,
                                 const std::function<void(std::size_t, std::size_t)>& progress = nullptr);
  // NAME.gguf, or NAME-00001-of-0000N.gguf with its N - 1 siblings beside it.
  static Result<Checkpoint> open_gguf(const std::string& path,
                                      const std::function<void(std::size_t, std::size_t)>& progress = nullptr);

  // The tensor table a checkpoint of this config holds (FP8 with its block
  // scales where the config says so, else bf16), without weights: matrices
  // have no data, vectors read as zeros. For planning from config.json
  // alone (inspect); a forward pass over it would read nothing valid.
  static Checkpoint shaped(const ModelConfig& config, const std::string& where);

  // The GGUF file holding the metadata (the first of a split set), or null.
  const GgufFile* gguf() const { return gguf_files_.empty() ? nullptr : gguf_files_.front().get(); }

  const std::string& dir() const { return dir_; }
  const TensorView* find(const std::string& name) const;
  const std::map<std::string, const TensorView*>& tensors() const { return by_name_; }
  std::size_t file_count() const { return files_.size() + gguf_files_.size(); }
  // The files whose mappings hold the tensors.
  std::vector<std::string> paths() const;
  std::size_t total_bytes() const;

 private:
  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::vector<std::unique_ptr<GgufFile>> gguf_files_;
  std::deque<std::string> gguf_paths_;  // stable addresses for TensorView::file
  std::deque<TensorView> gguf_views_;   // GGUF tensors (experts one by one) under HF names
  std::map<std::string, const TensorView*> by_name_;
  std::vector<float> zeros_;            // what a shaped checkpoint's vectors hold
};

}  // namespace dsv3
