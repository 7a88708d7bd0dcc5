// The CUDA backend's error paths: every way of asking for a GPU that cannot
// be had, and every bad batch given to one, is a clear error naming what is
// wrong, never a crash — on machines with a GPU and without.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda/cuda_forward.h"
#include "support/cli_runner.h"
#include "support/golden.h"
#include "support/skip_without_gpu.h"

namespace dsv3::test {
namespace {

const std::string kTiny = " --model " + model_dir("tiny");

TEST(CudaErrors, WithoutAGpuEveryEntrySaysWhy) {
  std::string why;
  if (cuda::available(&why)) GTEST_SKIP() << "a GPU is present: covered by the tests below";
  ASSERT_FALSE(why.empty());
  auto f = cuda::make_forward(*loaded("tiny").model, 0);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().message, "--device cuda: " + why);
  auto bw = cuda::copy_bandwidth_gbps(0, 1 << 20);
  ASSERT_FALSE(bw.ok());
  EXPECT_NE(bw.error().message.find(why), std::string::npos) << bw.error().message;
  // and through the CLI: exit code 2, one line that gives the reason
  const CliRun r = run("generate" + kTiny + " --ids 0,1 --max-tokens 1 --device cuda");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
}

TEST(CudaErrors, MalformedDeviceFlagsAreRefusedBeforeAnyGpuWork) {
  for (const std::string d : {"tpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "cuda:99999999999999999999", "CUDA"}) {
    const CliRun r = run("generate" + kTiny + " --ids 0,1 --max-tokens 1 --device " + d);
    EXPECT_EQ(r.code, 2) << d << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1) << d << ": " << r.err;
    EXPECT_NE(r.err.find("'" + d + "'"), std::string::npos) << d << ": " << r.err;
  }
}

TEST(CudaErrors, DeviceIndexPastTheLastGpu) {
  SKIP_WITHOUT_GPU();
  auto f = cuda::make_forward(*loaded("tiny").model, 99);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().message.find("cuda:99"), std::string::npos) << f.error().message;
  EXPECT_FALSE(cuda::make_forward(*loaded("tiny").model, -1).ok());
  const CliRun r = run("generate" + kTiny + " --ids 0,1 --max-tokens 1 --device cuda:99");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("cuda:99"), std::string::npos) << r.err;
}

// A token id outside the vocabulary is refused and leaves the cache as it was:
// the same sequence then continues exactly as one that never saw the bad id.
TEST(CudaErrors, BadIdsAreErrorsAndKeepTheCache) {
  SKIP_WITHOUT_GPU();
  auto made = cuda::make_forward(*loaded("tiny-fp8").model, 0);
  ASSERT_TRUE(made.ok()) << made.error().message;
  ForwardPass& f = **made;
  const int64_t hidden = f.config().hidden_size;
  const int32_t vocab = static_cast<int32_t>(f.config().vocab_size);
  const std::vector<int32_t> ids{0, 5, 9, 13};
  std::vector<float> h(ids.size() * hidden), h2(ids.size() * hidden);
  LatentCache a = f.make_cache(), b = f.make_cache();
  ASSERT_TRUE(f.forward(std::span<const int32_t>(ids).first(3), 0, a, h.data()).ok());
  for (const int32_t bad : {vocab, -1}) {
    const std::vector<int32_t> wrong{bad};
    const Status st = f.forward(wrong, 3, a, h2.data());
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_NE(st.error().message.find(std::to_string(bad)), std::string::npos) << st.error().message;
  }
  EXPECT_FALSE(f.forward(std::span<const int32_t>(ids).subspan(3), 7, a, h2.data()).ok()) << "a gap in positions";
  ASSERT_TRUE(f.forward(std::span<const int32_t>(ids).subspan(3), 3, a, h.data() + 3 * hidden).ok());
  ASSERT_TRUE(f.forward(ids, 0, b, h2.data()).ok());
  for (std::size_t i = 3 * hidden; i < h.size(); ++i) ASSERT_NEAR(h[i], h2[i], 1e-4) << i;
}

}  // namespace
}  // namespace dsv3::test
