#include "support/golden.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include "support/test_env.h"

namespace dsv3::test {

std::string data_dir() { return DSV3_TEST_DATA; }
std::string reference_dir() { return data_dir() + "/reference"; }
std::string model_dir(const std::string& name) { return reference_dir() + "/models/" + name; }

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

namespace {
SafetensorsFile open_or_die(const std::string& path) {
  auto f = SafetensorsFile::open(path);
  if (!f) throw std::runtime_error(f.error().message);
  return std::move(f).value();
}
}  // namespace

Golden::Golden(const std::string& path) : file_(open_or_die(path)) {}

const TensorView& Golden::tensor(const std::string& name) const {
  const TensorView* t = file_.find(name);
  if (t == nullptr) throw std::runtime_error("golden tensor missing: " + name);
  return *t;
}
const float* Golden::f32(const std::string& name) const {
  const TensorView& t = tensor(name);
  if (t.dtype != DType::F32) throw std::runtime_error("golden tensor not F32: " + name);
  return reinterpret_cast<const float*>(t.data);
}
const int32_t* Golden::i32(const std::string& name) const {
  const TensorView& t = tensor(name);
  if (t.dtype != DType::I32) throw std::runtime_error("golden tensor not I32: " + name);
  return reinterpret_cast<const int32_t*>(t.data);
}

LoadedModel& loaded(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, LoadedModel> models;
  std::lock_guard<std::mutex> lock(mu);
  auto it = models.find(name);
  if (it != models.end()) return it->second;
  LoadedModel m;
  auto r = Model::load(model_dir(name));
  if (!r) throw std::runtime_error(r.error().message);
  m.model = std::move(r).value();
  m.pool = std::make_unique<ThreadPool>(test_threads());
  m.transformer = std::make_unique<Transformer>(*m.model, m.pool.get());
  return models.emplace(name, std::move(m)).first->second;
}

const text::Tokenizer& tiny_tokenizer() {
  static const auto t = [] {
    auto r = text::Tokenizer::load(model_dir("tiny") + "/tokenizer.json");
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(r).value();
  }();
  return *t;
}

double logsumexp(const float* v, int64_t n) {
  double mx = v[0];
  for (int64_t i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(v[i]));
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(v[i]) - mx);
  return mx + std::log(s);
}

}  // namespace dsv3::test
