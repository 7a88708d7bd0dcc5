// The model is written against ops::Backend only: run over a backend that
// forwards every op to the CPU one but says it computes in device memory
// (so the model must upload, download and observe through the interface),
// it still matches the reference, and every op of the interface is used.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "model/transformer.h"
#include "ops/cpu_backend.h"
#include "support/reference_checks.h"

namespace dsv3::test {
namespace {

class ForwardingBackend final : public ops::Backend {
 public:
  explicit ForwardingBackend(ThreadPool* pool) : cpu_(pool) {}
  std::map<std::string, int> calls;
  std::string fail_op;  // this op returns an error instead of running

  std::string device() const override { return "forwarding"; }
  bool host_memory() const override { return false; }
  std::unique_ptr<ops::RowCache> make_cache(int64_t layers, int64_t width, DType dtype) const override {
    return cpu_.make_cache(layers, width, dtype);
  }
  Result<void*> scratch(int slot, int64_t bytes) override { return cpu_.scratch(slot, bytes); }
  Status upload(const void* host, void* device, int64_t bytes) override {
    return count("upload", cpu_.upload(host, device, bytes));
  }
  Status download(const void* device, void* host, int64_t bytes) override {
    return count("download", cpu_.download(device, host, bytes));
  }
  Status begin_batch(std::span<const int32_t> ids, std::span<const ops::TokenPlace> places) override {
    return count("begin_batch", cpu_.begin_batch(ids, places));
  }
  Status finish() override { return count("finish", cpu_.finish()); }
  Status embed(const ops::Matrix& table, float* out) override { return count("embed", cpu_.embed(table, out)); }
  Status rmsnorm(const float* x, int64_t ldx, std::span<const float> w, int64_t rows, float eps, float* out,
                 int64_t ldo) override {
    return count("rmsnorm", cpu_.rmsnorm(x, ldx, w, rows, eps, out, ldo));
  }
  Status matmul(std::span<const ops::MatmulJob> jobs, ops::Precision p) override {
    return count("matmul", cpu_.matmul(jobs, p));
  }
  Status grouped_matmul(const ops::GroupedProduct& g, ops::Precision p) override {
    return count("grouped_matmul", cpu_.grouped_matmul(g, p));
  }
  Status rope(const ops::Rope& r, float* x, int64_t ld, int64_t per_token) override {
    return count("rope", cpu_.rope(r, x, ld, per_token));
  }
  Status copy(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y, int64_t ldy) override {
    return count("copy", cpu_.copy(x, ldx, rows, cols, y, ldy));
  }
  Status cache_store(int64_t layer, const float* rows, int64_t ld) override {
    return count("cache_store", cpu_.cache_store(layer, rows, ld));
  }
  Status cached_attention(const ops::CachedAttention& a) override {
    return count("cached_attention", cpu_.cached_attention(a));
  }
  Status route(const ops::TopKRouting& r, const float* logits, int64_t n, std::span<const float> bias, int32_t* ids,
               float* weights) override {
    return count("route", cpu_.route(r, logits, n, bias, ids, weights));
  }
  Status experts(const ops::ExpertMix& m, ops::Precision p) override { return count("experts", cpu_.experts(m, p)); }
  Status silu_mul(const float* g, const float* u, int64_t n, float* out) override {
    return count("silu_mul", cpu_.silu_mul(g, u, n, out));
  }
  Status add(const float* x, float* y, int64_t n) override { return count("add", cpu_.add(x, y, n)); }

 private:
  Status count(const char* op, Status st) {
    ++calls[op];
    if (op == fail_op) return make_error("{} failed on the device", op);
    return st;
  }
  ops::CpuBackend cpu_;
};

TEST(BackendInterface, ModelOverAnyBackendMatchesReference) {
  for (const std::string model : {"tiny-fp8", "tiny"}) {
    LoadedModel& lm = loaded(model);
    ForwardingBackend be(lm.pool.get());
    Transformer t(*lm.model, be);
    EXPECT_EQ(t.device(), "forwarding");
    expect_reference_rows(t, model, 1);
    expect_reference_layers(t, model);
    for (const char* op : {"upload", "download", "begin_batch", "finish", "embed", "rmsnorm", "matmul",
                           "grouped_matmul", "rope", "copy", "cache_store", "cached_attention", "route", "experts",
                           "silu_mul", "add"})
      EXPECT_GT(be.calls[op], 0) << model << ": " << op << " never called";
  }
}

// A device error is an error of the call that met it, with its message (not NaN).
TEST(BackendInterface, AnOpErrorReachesTheCaller) {
  LoadedModel& lm = loaded("tiny");
  ForwardingBackend be(lm.pool.get());
  Transformer t(*lm.model, be);
  const int64_t hidden = t.config().hidden_size;
  std::vector<float> h(static_cast<std::size_t>(hidden)), logits(static_cast<std::size_t>(t.config().vocab_size));
  const int32_t id = 5;
  for (const char* op : {"cached_attention", "experts", "download"}) {
    be.fail_op = op;
    LatentCache cache = t.make_cache();
    const Status st = t.forward(std::span<const int32_t>(&id, 1), 0, cache, h.data());
    ASSERT_FALSE(st.ok()) << op;
    EXPECT_NE(st.error().message.find(op), std::string::npos) << st.error().message;
  }
  be.fail_op = "matmul";
  const Status st = t.logits(h.data(), 1, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("matmul"), std::string::npos) << st.error().message;
  be.fail_op.clear();
  EXPECT_TRUE(t.logits(h.data(), 1, logits.data()).ok());
}

}  // namespace
}  // namespace dsv3::test
