#include "base/mem_info.h"

#include <charconv>

#include "base/read_file.h"

namespace dsv3 {

Result<int64_t> parse_mem_available(std::string_view text) {
  constexpr std::string_view kKey = "MemAvailable:";
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(kKey)) continue;
    line.remove_prefix(kKey.size());
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    int64_t kib = 0;
    const auto [p, ec] = std::from_chars(line.data(), line.data() + line.size(), kib);
    const std::string_view unit = line.substr(static_cast<std::size_t>(p - line.data()));
    // the kernel writes "kB" (meaning KiB) and nothing else
    if (ec != std::errc() || kib < 0 || unit != " kB" || kib > (int64_t{1} << 50))
      return make_error("meminfo: malformed MemAvailable line");
    return kib * 1024;
  }
  return make_error("meminfo: no MemAvailable line");
}

Result<int64_t> mem_available_bytes(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  auto bytes = parse_mem_available(*text);
  if (!bytes) return make_error("{}: {}", path, bytes.error().message);
  return bytes;
}

}  // namespace dsv3
