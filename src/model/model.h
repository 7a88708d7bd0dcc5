// A loaded checkpoint: config, mapped tensors and the typed weight views.
#pragma once
#include <memory>
#include <string>

#include "base/status.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/weights.h"

namespace dsv3 {

struct Model {
  ModelConfig config;
  Checkpoint checkpoint;  // owns the mappings the weights point into
  Weights weights;

  // Loads DIR/config.json and the safetensors beside it.
  static Result<std::unique_ptr<Model>> load(const std::string& dir);
};

}  // namespace dsv3
