#include "base/read_file.h"

#include <fstream>
#include <sstream>

namespace dsv3 {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("{}: cannot open", path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return make_error("{}: read failed", path);
  return ss.str();
}

}  // namespace dsv3
