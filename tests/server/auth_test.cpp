// API keys: Bearer parsing, key files, constant-time comparison.
#include "server/auth.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace dsv3::server {
namespace {

TEST(Auth, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secre", "secret"));
  EXPECT_FALSE(constant_time_equal("secrets", "secret"));
  EXPECT_FALSE(constant_time_equal("", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", ""));
  EXPECT_FALSE(constant_time_equal(std::string("sec\0et", 6), "secret"));
}

TEST(Auth, BearerHeader) {
  auto k = ApiKeys::make({"k1", "k2"}, "");
  ASSERT_TRUE(k.ok());
  EXPECT_TRUE(k->enabled());
  EXPECT_EQ(k->check("Bearer k1"), std::optional<std::size_t>(0));
  EXPECT_EQ(k->check("bearer  k2 "), std::optional<std::size_t>(1));
  EXPECT_EQ(k->check("Bearer k3"), std::nullopt);
  EXPECT_EQ(k->check("Bearer "), std::nullopt);
  EXPECT_EQ(k->check("k1"), std::nullopt);
  EXPECT_EQ(k->check("Basic k1"), std::nullopt);
  EXPECT_EQ(k->check(""), std::nullopt);
  EXPECT_EQ(ApiKeys::label(1), "key1");
}

TEST(Auth, KeyFileOneKeyPerLine) {
  test::TempDir d;
  test::write_file(d.file("keys"), "# team keys\nalpha\r\n\n  beta  \n#gamma\n");
  auto k = ApiKeys::make({"cli"}, d.file("keys"));
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->check("Bearer cli"), std::optional<std::size_t>(0));
  EXPECT_EQ(k->check("Bearer alpha"), std::optional<std::size_t>(1));
  EXPECT_EQ(k->check("Bearer beta"), std::optional<std::size_t>(2));
  EXPECT_EQ(k->check("Bearer gamma"), std::nullopt);
  EXPECT_EQ(k->check("Bearer # team keys"), std::nullopt);
}

TEST(Auth, BadKeyInput) {
  EXPECT_FALSE(ApiKeys::make({}, "/nonexistent/keys").ok());
  EXPECT_FALSE(ApiKeys::make({""}, "").ok());
  test::TempDir d;
  test::write_file(d.file("empty"), "# nothing\n\n");
  EXPECT_FALSE(ApiKeys::make({}, d.file("empty")).ok());
  auto none = ApiKeys::make({}, "");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->enabled());
}

}  // namespace
}  // namespace dsv3::server
