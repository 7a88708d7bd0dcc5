// Shared pieces of the libFuzzer targets: the bundled tiny model's files
// (DSV3_MODEL_DIR, set by fuzz/CMakeLists.txt), loaded once per process.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dsv3::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline std::string model_file(const char* name) { return std::string(DSV3_MODEL_DIR) + "/" + name; }

}  // namespace dsv3::fuzz
