// `cmake --install` puts a working dsv3 under the prefix.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "support/cli_runner.h"
#include "support/temp_dir.h"

namespace dsv3::test {
namespace {

TEST(Install, CmakeInstallPutsTheBinaryUnderThePrefix) {
  if (std::system("command -v cmake >/dev/null 2>&1") != 0) GTEST_SKIP() << "cmake is not installed";
  const std::filesystem::path build = std::filesystem::path(DSV3_BINARY).parent_path();
  TempDir d;
  const CliRun r = run_command("cmake --install " + build.string() + " --prefix " + d.path().string());
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string installed = (d.path() / "bin" / "dsv3").string();
  ASSERT_TRUE(std::filesystem::exists(installed)) << r.out;
  const CliRun v = run_command(installed + " --version");
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.out.find("dsv3"), std::string::npos);
}

}  // namespace
}  // namespace dsv3::test
