#include "model/model.h"
#include "model/gguf_config.h"
#include "base/read_file.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace dsv3 {

namespace {
// generation_config.json may add end-of-turn ids (an int or a list). Ids must
// be tokens of the model: one outside [0, vocab) would never match or would
// index past the logits, so it is refused rather than dropped.
Result<std::vector<int64_t>> generation_eos(const std::filesystem::path& path, int64_t vocab_size) {
  std::vector<int64_t> ids;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return ids;
  DSV3_ASSIGN_OR_RETURN(std::string text, read_regular_file(path.string()));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("{}: not valid JSON", path.string());
  auto check = [&](const char* key, const nlohmann::json& v) -> Result<int64_t> {
    if (!v.is_number_integer()) return make_error("{}: key \"{}\" must hold integers (got {})", path.string(), key, v.dump());
    const int64_t id = v.get<int64_t>();
    if (id < 0 || id >= vocab_size)
      return make_error("{}: key \"{}\" ({}) is outside the vocabulary [0, {})", path.string(), key, id, vocab_size);
    return id;
  };
  if (auto it = j.find("bos_token_id"); it != j.end() && !it->is_null())
    DSV3_RETURN_IF_ERROR(check("bos_token_id", *it));
  auto it = j.find("eos_token_id");
  if (it == j.end() || it->is_null()) return ids;
  if (it->is_array()) {
    for (const auto& v : *it) {
      DSV3_ASSIGN_OR_RETURN(int64_t id, check("eos_token_id", v));
      ids.push_back(id);
    }
  } else {
    DSV3_ASSIGN_OR_RETURN(int64_t id, check("eos_token_id", *it));
    ids.push_back(id);
  }
  return ids;
}
}  // namespace

Result<std::unique_ptr<Model>> Model::load_gguf(const std::string& path, const Progress& progress,
                                                const Shard& shard) {
  auto m = std::make_unique<Model>();
  m->shard = shard;
  DSV3_ASSIGN_OR_RETURN(m->checkpoint, Checkpoint::open_gguf(path, progress));
  DSV3_ASSIGN_OR_RETURN(m->config, gguf_config(*m->checkpoint.gguf()));
  DSV3_ASSIGN_OR_RETURN(m->weights, bind_weights(m->checkpoint, m->config, m->shard));
  m->eos_token_ids = m->config.eos_token_ids;
  return m;
}

bool is_gguf_path(const std::string& path) {
  std::error_code ec;
  return std::filesystem::path(path).extension() == ".gguf" && !std::filesystem::is_directory(path, ec);
}

Result<std::unique_ptr<Model>> Model::load(const std::string& dir, const Progress& progress, const Shard& shard) {
  if (is_gguf_path(dir)) return load_gguf(dir, progress, shard);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return make_error("{}: model directory not found", dir);
  auto m = std::make_unique<Model>();
  m->shard = shard;
  DSV3_ASSIGN_OR_RETURN(m->config, load_config((std::filesystem::path(dir) / "config.json").string()));
  DSV3_ASSIGN_OR_RETURN(m->checkpoint, Checkpoint::open(dir, progress));
  DSV3_ASSIGN_OR_RETURN(m->weights, bind_weights(m->checkpoint, m->config, m->shard));
  m->eos_token_ids = m->config.eos_token_ids;
  DSV3_ASSIGN_OR_RETURN(auto extra,
                        generation_eos(std::filesystem::path(dir) / "generation_config.json", m->config.vocab_size));
  for (int64_t id : extra)
    if (std::find(m->eos_token_ids.begin(), m->eos_token_ids.end(), id) == m->eos_token_ids.end())
      m->eos_token_ids.push_back(id);
  return m;
}

}  // namespace dsv3
