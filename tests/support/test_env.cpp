#include "support/test_env.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace dsv3::test {
namespace {

// A set variable must be a positive number: a typo should not silently mean the default.
long positive_setting(const char* name, long fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n <= 0) throw std::invalid_argument(std::string(name) + " must be a positive integer, got '" + v + "'");
  return n;
}

}  // namespace

int test_threads() { return static_cast<int>(positive_setting("DSV3_TEST_THREADS", 2)); }

std::chrono::milliseconds test_deadline() {
  return std::chrono::seconds(positive_setting("DSV3_TEST_DEADLINE_S", 120));
}

bool gpu_required() {
  const char* v = std::getenv("DSV3_REQUIRE_GPU");
  return v != nullptr && std::string(v) == "1";
}

}  // namespace dsv3::test
