#include "model/model.h"
#include "base/read_file.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace dsv3 {

namespace {
// generation_config.json may add end-of-turn ids (an int or a list).
Result<std::vector<int64_t>> generation_eos(const std::filesystem::path& path) {
  std::vector<int64_t> ids;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return ids;
  DSV3_ASSIGN_OR_RETURN(std::string text, read_file(path.string()));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("{}: not valid JSON", path.string());
  auto it = j.find("eos_token_id");
  if (it == j.end() || it->is_null()) return ids;
  if (it->is_number_integer()) ids.push_back(it->get<int64_t>());
  else if (it->is_array())
    for (const auto& v : *it)
      if (v.is_number_integer()) ids.push_back(v.get<int64_t>());
  return ids;
}
}  // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& dir, const Progress& progress) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return make_error("{}: model directory not found", dir);
  auto m = std::make_unique<Model>();
  DSV3_ASSIGN_OR_RETURN(m->config, load_config((std::filesystem::path(dir) / "config.json").string()));
  DSV3_ASSIGN_OR_RETURN(m->checkpoint, Checkpoint::open(dir, progress));
  DSV3_ASSIGN_OR_RETURN(m->weights, bind_weights(m->checkpoint, m->config));
  m->eos_token_ids = m->config.eos_token_ids;
  DSV3_ASSIGN_OR_RETURN(auto extra, generation_eos(std::filesystem::path(dir) / "generation_config.json"));
  for (int64_t id : extra)
    if (id >= 0 && id < m->config.vocab_size &&
        std::find(m->eos_token_ids.begin(), m->eos_token_ids.end(), id) == m->eos_token_ids.end())
      m->eos_token_ids.push_back(id);
  return m;
}

}  // namespace dsv3
