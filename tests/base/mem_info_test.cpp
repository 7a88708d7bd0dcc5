// MemAvailable from /proc/meminfo: parsed in bytes, malformed text refused.
#include "base/mem_info.h"

#include <gtest/gtest.h>

namespace dsv3 {
namespace {

TEST(MemInfo, ParsesMemAvailableInBytes) {
  const char* text =
      "MemTotal:       16384000 kB\n"
      "MemFree:         1000000 kB\n"
      "MemAvailable:    8192000 kB\n"
      "Buffers:          100000 kB\n";
  auto r = parse_mem_available(text);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, int64_t{8192000} * 1024);
}

TEST(MemInfo, MissingOrMalformedIsAnError) {
  EXPECT_FALSE(parse_mem_available("MemTotal: 100 kB\n").ok());
  EXPECT_FALSE(parse_mem_available("MemAvailable: lots\n").ok());
  EXPECT_FALSE(parse_mem_available("MemAvailable: 100 MB\n").ok());
  EXPECT_FALSE(parse_mem_available("").ok());
}

TEST(MemInfo, ThisSystemHasSome) {
  auto r = mem_available_bytes();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_GT(*r, 0);
  EXPECT_FALSE(mem_available_bytes("/nonexistent/meminfo").ok());
}

}  // namespace
}  // namespace dsv3
