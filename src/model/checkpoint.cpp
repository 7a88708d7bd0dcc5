#include "model/checkpoint.h"
#include "base/read_file.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

namespace dsv3 {

namespace fs = std::filesystem;
using nlohmann::json;

const TensorView* Checkpoint::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::size_t Checkpoint::total_bytes() const {
  std::size_t n = 0;
  for (const auto& [name, t] : by_name_) n += t->nbytes;
  return n;
}

Result<Checkpoint> Checkpoint::open(const std::string& dir,
                                    const std::function<void(std::size_t, std::size_t)>& progress) {
  Checkpoint c;
  c.dir_ = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return make_error("{}: not a directory", dir);
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  std::map<std::string, std::string> expected;  // tensor -> shard, from the index
  std::vector<std::string> shard_names;
  if (fs::exists(index_path, ec)) {
    DSV3_ASSIGN_OR_RETURN(std::string text, read_regular_file(index_path.string()));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return make_error("{}: not valid JSON", index_path.string());
    auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object()) return make_error("{}: missing \"weight_map\"", index_path.string());
    std::set<std::string> seen;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it->is_string()) return make_error("{}: weight_map entry {} is not a file name", index_path.string(), it.key());
      const std::string shard = it->get<std::string>();
      if (shard.find('/') != std::string::npos || shard == ".." || shard.empty())
        return make_error("{}: weight_map entry {} names an invalid file \"{}\"", index_path.string(), it.key(), shard);
      expected[it.key()] = shard;
      if (seen.insert(shard).second) shard_names.push_back(shard);
    }
    for (const auto& s : shard_names)
      if (!fs::exists(fs::path(dir) / s, ec))
        return make_error("{}: shard {} is listed in model.safetensors.index.json but missing", dir, s);
  } else if (fs::exists(single, ec)) {
    shard_names.push_back("model.safetensors");
  } else {
    return make_error("{}: no model.safetensors or model.safetensors.index.json", dir);
  }
  c.files_.reserve(shard_names.size());
  for (const auto& s : shard_names) {
    DSV3_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::open((fs::path(dir) / s).string()));
    c.files_.push_back(std::move(f));
    if (progress) progress(c.files_.size(), shard_names.size());
  }
  for (const auto& f : c.files_) {
    for (const auto& [name, view] : f.tensors()) {
      auto [it, inserted] = c.by_name_.emplace(name, &view);
      if (!inserted) return make_error("{}: tensor {} appears in two files ({})", dir, name, f.path());
    }
  }
  for (const auto& [name, shard] : expected) {
    const TensorView* t = c.find(name);
    if (t == nullptr) return make_error("{}: tensor {}: listed in the index for {} but not found there", dir, name, shard);
    if (fs::path(*t->file).filename() != shard)
      return make_error("{}: tensor {}: the index says {} but it is in {}", dir, name, shard, *t->file);
  }
  return c;
}

}  // namespace dsv3

namespace dsv3 {

std::vector<std::string> Checkpoint::paths() const {
  std::vector<std::string> out;
  for (const SafetensorsFile& f : files_) out.push_back(f.path());
  if (!gguf_files_.empty()) out.insert(out.end(), gguf_paths_.begin(), gguf_paths_.end());
  return out;
}

}  // namespace dsv3
