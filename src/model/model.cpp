#include "model/model.h"

#include <filesystem>

namespace dsv3 {

Result<std::unique_ptr<Model>> Model::load(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return make_error("{}: model directory not found", dir);
  auto m = std::make_unique<Model>();
  DSV3_ASSIGN_OR_RETURN(m->config, load_config((std::filesystem::path(dir) / "config.json").string()));
  DSV3_ASSIGN_OR_RETURN(m->checkpoint, Checkpoint::open(dir));
  DSV3_ASSIGN_OR_RETURN(m->weights, bind_weights(m->checkpoint, m->config));
  return m;
}

}  // namespace dsv3
