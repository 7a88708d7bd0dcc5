#include "base/read_file.h"

#include <fstream>

namespace dsv3 {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("{}: cannot open", path);
  // read by chunks, not by `stream << rdbuf()`: that reports a read error
  // (a directory, say) on the other stream, as if the file were empty
  std::string out;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) out.append(buf, static_cast<std::size_t>(in.gcount()));
  if (in.bad()) return make_error("{}: read failed", path);
  return out;
}

}  // namespace dsv3
