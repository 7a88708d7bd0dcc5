// model.safetensors.index.json: any bytes as the index of a directory that
// holds two small valid shards (a.safetensors with tensor "x", b.safetensors
// with "y"), so an index naming them goes on to the tensor checks.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_main.h"
#include "model/checkpoint.h"

namespace {

void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) std::abort();
}

// A safetensors file with one f32 tensor of one value.
std::string shard(const std::string& tensor) {
  const std::string header = "{\"" + tensor + "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  return bytes + header + std::string(4, '\0');
}

const std::filesystem::path& model_dir() {
  static const std::filesystem::path dir = [] {
    const auto d = std::filesystem::temp_directory_path() / ("dsv3-fuzz-index-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    write_file(d / "a.safetensors", shard("x"));
    write_file(d / "b.safetensors", shard("y"));
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(model_dir(), ec);
    });
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::filesystem::path& dir = model_dir();
  write_file(dir / "model.safetensors.index.json", std::string(dsv3::fuzz::as_text(data, size)));
  (void)dsv3::Checkpoint::open(dir.string());
  return 0;
}
