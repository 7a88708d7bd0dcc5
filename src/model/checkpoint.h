// A Hugging Face checkpoint directory: config.json plus one model.safetensors
// or shards listed by model.safetensors.index.json, all memory-mapped.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/safetensors.h"

namespace dsv3 {

class Checkpoint {
 public:
  // progress(done, total) after each file is opened and checked.
  static Result<Checkpoint> open(const std::string& dir,
                                 const std::function<void(std::size_t, std::size_t)>& progress = nullptr);

  const std::string& dir() const { return dir_; }
  const TensorView* find(const std::string& name) const;
  const std::map<std::string, const TensorView*>& tensors() const { return by_name_; }
  std::size_t file_count() const { return files_.size(); }
  std::size_t total_bytes() const;

 private:
  std::string dir_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, const TensorView*> by_name_;
};

}  // namespace dsv3
