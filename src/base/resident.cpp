#include "base/resident.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace dsv3 {

Result<int64_t> resident_bytes_of(const std::vector<std::string>& paths) {
  std::set<std::string> want;
  for (const std::string& p : paths) {
    want.insert(p);
    std::error_code ec;
    const auto canon = std::filesystem::canonical(p, ec);
    if (!ec) want.insert(canon.string());
  }
  std::ifstream smaps("/proc/self/smaps");
  if (!smaps) return make_error("/proc/self/smaps: cannot read it (not Linux?)");
  int64_t total = 0;
  bool inside = false;  // the current mapping is one of ours
  std::string line;
  while (std::getline(smaps, line)) {
    // a mapping's header: "start-end perms offset dev inode   path"
    const auto dash = line.find('-');
    if (dash != std::string::npos && dash > 0 && std::isxdigit(static_cast<unsigned char>(line[0])) &&
        line.find(' ') > dash) {
      std::istringstream in(line);
      std::string range, perms, offset, dev, inode, path;
      in >> range >> perms >> offset >> dev >> inode;
      std::getline(in >> std::ws, path);
      inside = want.count(path) > 0;
      continue;
    }
    if (inside && line.rfind("Rss:", 0) == 0) {
      std::istringstream in(line.substr(4));
      int64_t kb = 0;
      in >> kb;
      total += kb * 1024;
    }
  }
  return total;
}

}  // namespace dsv3
