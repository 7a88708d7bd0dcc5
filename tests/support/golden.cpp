#include "support/golden.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
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

double reference_row_error(const Golden& g, const std::string& prefix, int64_t row, const float* logits, int64_t vocab) {
  double w = 0.0;
  if (g.has(prefix + "logits")) {
    const float* r = g.f32(prefix + "logits") + row * vocab;
    for (int64_t v = 0; v < vocab; ++v) w = std::max(w, std::fabs(double(logits[v]) - r[v]));
    return w;
  }
  const int32_t* ids = g.i32(prefix + "top32_ids") + row * 32;
  const float* vals = g.f32(prefix + "top32_logits") + row * 32;
  for (int k = 0; k < 32; ++k) w = std::max(w, std::fabs(double(logits[ids[k]]) - vals[k]));
  return std::max(w, std::fabs(logsumexp(logits, vocab) - g.f32(prefix + "logsumexp")[row]));
}

double reference_top2_gap(const Golden& g, const std::string& prefix, int64_t row, int64_t vocab) {
  if (g.has(prefix + "logits")) {
    const float* r = g.f32(prefix + "logits") + row * vocab;
    double a = -INFINITY, b = -INFINITY;
    for (int64_t v = 0; v < vocab; ++v) {
      if (r[v] > a) {
        b = a;
        a = r[v];
      } else if (r[v] > b) {
        b = r[v];
      }
    }
    return a - b;
  }
  const float* top = g.f32(prefix + "top32_logits") + row * 32;
  return double(top[0]) - top[1];
}

int64_t expect_greedy_until_near_tie(const std::vector<int32_t>& got, const std::vector<int32_t>& want,
                                     const std::vector<double>& gaps, double tie, const std::string& what) {
  EXPECT_EQ(got.size(), want.size()) << what;
  EXPECT_EQ(gaps.size(), want.size()) << what;
  const std::size_t n = std::min({got.size(), want.size(), gaps.size()});
  int64_t compared = 0;
  for (std::size_t k = 0; k < n && gaps[k] >= tie; ++k, ++compared) {
    if (got[k] != want[k]) {
      ADD_FAILURE() << what << ": greedy token " << k << " is " << got[k] << ", the reference's " << want[k]
                    << " (reference margin " << gaps[k] << " >= " << tie << ")";
      break;
    }
  }
  return compared;
}

double ErrorDistribution::quantile(double q) {
  if (v_.empty()) return NAN;
  if (!sorted_) std::sort(v_.begin(), v_.end());
  sorted_ = true;
  const double rank = std::ceil(q * static_cast<double>(v_.size()));
  const std::size_t i = rank < 1.0 ? 0 : static_cast<std::size_t>(rank) - 1;
  return v_[std::min(i, v_.size() - 1)];
}

int64_t ErrorDistribution::within(double bound) const {
  return std::count_if(v_.begin(), v_.end(), [&](double e) { return e <= bound; });
}

std::string ErrorDistribution::summary() {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%zu rows, median %.3g, p90 %.3g, p99 %.3g, max %.3g", v_.size(), quantile(0.5),
                quantile(0.9), quantile(0.99), max());
  return buf;
}

}  // namespace dsv3::test
