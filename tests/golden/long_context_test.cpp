// Long context past YaRN's original 4096 positions: every row's top-32 logits
// and logsumexp, tiny-fp8's last 64 full rows, and the 16 greedy tokens, with
// the prompt fed at once and in chunks of 512 (support/reference_checks.h).
#include <gtest/gtest.h>

#include "support/reference_checks.h"

namespace dsv3::test {
namespace {

struct LongCase {
  std::string model;
  int64_t chunk;
};

void PrintTo(const LongCase& c, std::ostream* os) { *os << c.model << " chunk " << c.chunk; }

class LongContext : public testing::TestWithParam<LongCase> {};

TEST_P(LongContext, MatchesReference) {
  expect_long_context(*loaded(GetParam().model).transformer, GetParam().model, GetParam().chunk);
}

INSTANTIATE_TEST_SUITE_P(Golden, LongContext,
                         testing::Values(LongCase{"tiny", 0}, LongCase{"tiny", 512}, LongCase{"tiny-fp8", 0},
                                         LongCase{"tiny-fp8", 512}),
                         [](const auto& info) {
                           std::string m = info.param.model == "tiny" ? "tiny" : "tiny_fp8";
                           return m + (info.param.chunk ? "_chunks512" : "_whole");
                         });

}  // namespace
}  // namespace dsv3::test
