// The golden tests on the GPU: the CUDA forward pass against the reference
// logits of tiny (bf16) and tiny-fp8 (fp8 blocks), greedy tokens through
// Session, and the engine's ways of feeding it (chunks, batches, forks, an
// f16 cache) against one plain prefill. Skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cuda/cuda_forward.h"
#include "engine/session.h"
#include "support/reference_checks.h"
#include "support/skip_without_gpu.h"

namespace dsv3::test {
namespace {

// The GPU forward pass of a reference model, uploaded once per process;
// null (with the reason) without a GPU.
ForwardPass* gpu_model(const std::string& name, std::string* why) {
  static std::map<std::string, std::unique_ptr<ForwardPass>> models;
  if (!cuda::available(why)) return nullptr;
  auto& slot = models[name];
  if (!slot) {
    auto f = cuda::make_forward(*loaded(name).model, 0);
    if (!f.ok()) {
      *why = f.error().message;
      return nullptr;
    }
    slot = std::move(f).value();
  }
  return slot.get();
}

// Skips without a GPU, or fails where one should be there (see
// support/skip_without_gpu.h); a GPU that cannot take the model is a failure.
#define GPU_MODEL_OR_SKIP(var, name)                             \
  std::string why_;                                              \
  ForwardPass* var = gpu_model(name, &why_);                     \
  if (!var) {                                                    \
    if (cuda::available() || missing_gpu_is_failure()) FAIL() << why_; \
    GTEST_SKIP() << why_;                                        \
  }

std::vector<float> hidden_of(ForwardPass& f, const std::vector<int32_t>& ids) {
  LatentCache cache = f.make_cache();
  std::vector<float> h(ids.size() * static_cast<std::size_t>(f.config().hidden_size));
  const Status st = f.forward(ids, 0, cache, h.data());
  EXPECT_TRUE(st.ok()) << st.error().message;
  return h;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) worst = std::max(worst, std::fabs(double(a[i]) - b[i]));
  return a.size() == b.size() ? worst : 1e30;
}

class CudaGolden : public testing::TestWithParam<std::string> {};

// Every row of every prompt + greedy continuation, teacher-forced in one prefill.
TEST_P(CudaGolden, EveryLogitsRowMatchesReference) {
  const std::string model = GetParam();
  GPU_MODEL_OR_SKIP(f, model);
  for (int prompt = 0; prompt < reference_prompt_count(model); ++prompt) expect_reference_rows(*f, model, prompt);
}

// Past YaRN's original 4096 positions, prompt at once and in chunks of 512.
TEST_P(CudaGolden, LongContextMatchesReference) {
  const std::string model = GetParam();
  GPU_MODEL_OR_SKIP(f, model);
  expect_long_context(*f, model, 0);
  expect_long_context(*f, model, 512);
}

// The residual stream after every layer against the reference's: locates a
// GPU mismatch to one layer.
TEST_P(CudaGolden, EveryLayerMatchesReference) {
  const std::string model = GetParam();
  GPU_MODEL_OR_SKIP(f, model);
  expect_reference_layers(*f, model);
}

// The GPU's final hidden states against the CPU Transformer's.
TEST_P(CudaGolden, HiddenStatesMatchCpu) {
  const std::string model = GetParam();
  GPU_MODEL_OR_SKIP(f, model);
  const std::vector<int32_t> seq = prompt_and_greedy(model, 3);
  const std::vector<float> gpu = hidden_of(*f, seq);
  const std::vector<float> cpu = hidden_of(*loaded(model).transformer, seq);
  EXPECT_LE(max_abs_diff(gpu, cpu), kExactTolerance);
}

TEST_P(CudaGolden, GreedyTokensIdentical) {
  const std::string model = GetParam();
  GPU_MODEL_OR_SKIP(f, model);
  for (int prompt = 0; prompt < reference_prompt_count(model); ++prompt) expect_reference_greedy(*f, model, prompt);
}

// Chunked prefill (odd chunk sizes), then one token at a time, equals one prefill.
TEST_P(CudaGolden, ChunkedPrefillAndDecodeEqualOnePrefill) {
  const std::string model = GetParam();
  GPU_MODEL_OR_SKIP(f, model);
  const std::vector<int32_t> seq = prompt_and_greedy(model, 3);
  const int64_t n = static_cast<int64_t>(seq.size()), hidden = f->config().hidden_size;
  const std::vector<float> whole = hidden_of(*f, seq);
  LatentCache cache = f->make_cache();
  std::vector<float> parts(whole.size());
  int64_t at = 0;
  const int64_t prefill = n - 12;
  const int64_t sizes[] = {5, 17, 64};
  for (int k = 0; at < prefill; ++k) {
    const int64_t m = std::min(sizes[k % 3], prefill - at);
    const Status st = f->forward(std::span<const int32_t>(seq).subspan(at, m), at, cache, parts.data() + at * hidden);
    ASSERT_TRUE(st.ok()) << st.error().message;
    at += m;
  }
  for (; at < n; ++at) {
    const Status st = f->forward(std::span<const int32_t>(seq).subspan(at, 1), at, cache, parts.data() + at * hidden);
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  EXPECT_LE(max_abs_diff(parts, whole), 1e-4);
  // and through Session with its own chunking
  Session s(*f, 7);
  std::vector<float> rows;
  ASSERT_TRUE(s.append(seq, &rows).ok());
  std::vector<float> want(static_cast<std::size_t>(f->config().vocab_size));
  ASSERT_TRUE(f->logits(whole.data() + (n - 1) * hidden, 1, want.data()).ok());
  EXPECT_LE(max_abs_diff(s.last_logits(), want), kExactTolerance);
}

// Several sequences in one forward call equal each alone.
TEST_P(CudaGolden, BatchedSequencesEqualAlone) {
  const std::string model = GetParam();
  GPU_MODEL_OR_SKIP(f, model);
  const int64_t hidden = f->config().hidden_size;
  const std::vector<int32_t> a = prompt_and_greedy(model, 3), b = prompt_and_greedy(model, 1);
  const std::vector<float> ha = hidden_of(*f, a), hb = hidden_of(*f, b);
  // prefixes first, then the rest of a with one token of b (mixed prefill and decode)
  LatentCache ca = f->make_cache(), cb = f->make_cache();
  const int64_t pa = 40, pb = static_cast<int64_t>(b.size()) - 1;
  std::vector<float> out(static_cast<std::size_t>((pa + pb) * hidden));
  {
    const SequenceChunk chunks[] = {{std::span<const int32_t>(a).first(pa), 0, &ca},
                                    {std::span<const int32_t>(b).first(pb), 0, &cb}};
    ASSERT_TRUE(f->forward(chunks, out.data()).ok());
    EXPECT_LE(max_abs_diff({out.begin(), out.begin() + pa * hidden}, {ha.begin(), ha.begin() + pa * hidden}), 1e-4);
    EXPECT_LE(max_abs_diff({out.begin() + pa * hidden, out.end()}, {hb.begin(), hb.begin() + pb * hidden}), 1e-4);
  }
  const int64_t rest = static_cast<int64_t>(a.size()) - pa;
  std::vector<float> out2(static_cast<std::size_t>((rest + 1) * hidden));
  const SequenceChunk chunks[] = {{std::span<const int32_t>(b).subspan(pb, 1), pb, &cb},
                                  {std::span<const int32_t>(a).subspan(pa), pa, &ca}};
  ASSERT_TRUE(f->forward(chunks, out2.data()).ok());
  EXPECT_LE(max_abs_diff({out2.begin(), out2.begin() + hidden}, {hb.end() - hidden, hb.end()}), 1e-4);
  EXPECT_LE(max_abs_diff({out2.begin() + hidden, out2.end()}, {ha.begin() + pa * hidden, ha.end()}), 1e-4);
}

// A copied cache (beams fork this way) continues independently.
TEST_P(CudaGolden, CopiedCacheForks) {
  const std::string model = GetParam();
  GPU_MODEL_OR_SKIP(f, model);
  const int64_t hidden = f->config().hidden_size;
  const std::vector<int32_t> a = prompt_and_greedy(model, 3);
  const std::vector<float> ha = hidden_of(*f, a);
  LatentCache cache = f->make_cache(4);  // small: grows while prefilling
  const int64_t p = 30;
  std::vector<float> h(a.size() * static_cast<std::size_t>(hidden));
  ASSERT_TRUE(f->forward(std::span<const int32_t>(a).first(p), 0, cache, h.data()).ok());
  LatentCache fork = cache;
  // the original goes elsewhere; the fork must still continue a
  const std::vector<int32_t> other(20, 5);
  ASSERT_TRUE(f->forward(other, p, cache, h.data()).ok());
  ASSERT_TRUE(f->forward(std::span<const int32_t>(a).subspan(p), p, fork, h.data()).ok());
  EXPECT_LE(max_abs_diff({h.begin(), h.begin() + (a.size() - p) * hidden}, {ha.begin() + p * hidden, ha.end()}), 1e-4);
}

// An f16 cache stays within 1e-2 of the reference logits (as on the CPU).
TEST_P(CudaGolden, F16CacheCloseToReference) {
  const std::string model = GetParam();
  GPU_MODEL_OR_SKIP(f, model);
  const std::vector<int32_t> seq = prompt_and_greedy(model, 3);
  const int64_t n = static_cast<int64_t>(seq.size()), hidden = f->config().hidden_size;
  LatentCache c32 = f->make_cache(0, DType::F32), c16 = f->make_cache(0, DType::F16);
  std::vector<float> h32(static_cast<std::size_t>(n * hidden)), h16(h32.size());
  ASSERT_TRUE(f->forward(seq, 0, c32, h32.data()).ok());
  ASSERT_TRUE(f->forward(seq, 0, c16, h16.data()).ok());
  const int64_t vocab = f->config().vocab_size;
  std::vector<float> l32(static_cast<std::size_t>(vocab)), l16(l32.size());
  double worst = 0.0;
  for (int64_t row = 0; row < n; row += 7) {
    ASSERT_TRUE(f->logits(h32.data() + row * hidden, 1, l32.data()).ok());
    ASSERT_TRUE(f->logits(h16.data() + row * hidden, 1, l16.data()).ok());
    worst = std::max(worst, max_abs_diff(l32, l16));
  }
  EXPECT_LE(worst, 1e-2);
}

TEST_P(CudaGolden, RejectsForeignCaches) {
  const std::string model = GetParam();
  GPU_MODEL_OR_SKIP(f, model);
  LatentCache cpu_cache = loaded(model).transformer->make_cache();
  const std::vector<int32_t> ids{1, 2};
  std::vector<float> h(2 * static_cast<std::size_t>(f->config().hidden_size));
  EXPECT_FALSE(f->forward(ids, 0, cpu_cache, h.data()).ok());
  EXPECT_EQ(f->device(), "cuda:0");
}

INSTANTIATE_TEST_SUITE_P(Cuda, CudaGolden, testing::Values("tiny-fp8", "tiny"), [](const auto& info) {
  std::string s = info.param;
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
});

}  // namespace
}  // namespace dsv3::test
