#include "jinja/py_string.h"

#include <algorithm>

#include "jinja/arguments.h"
#include "jinja/unicode.h"

namespace dsv3::jinja {

// Python's strip family; `chars` undefined or None strips whitespace.
Result<std::string> py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<uint32_t> set;
  const bool ws = !given_not_none(chars);
  if (!ws) {
    if (!chars.is_string()) return make_error("strip arg must be None or str");
    const std::string& c = chars.as_string();
    for (size_t i = 0; i < c.size();) {
      size_t len = 1;
      set.push_back(utf8_decode(c, i, &len));
      i += len;
    }
  }
  auto strip_it = [&](uint32_t cp) {
    return ws ? is_py_space(cp) : std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t begin = 0, end = 0;
  bool seen = false;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const bool strip = strip_it(utf8_decode(s, i, &len));
    if (!strip) {
      if (!seen) begin = i;
      seen = true;
      end = i + len;
    }
    i += len;
  }
  if (!seen) return std::string();
  if (!left) begin = 0;
  if (!right) end = s.size();
  return s.substr(begin, end - begin);
}

Result<std::string> py_replace(const std::string& s, const std::string& old, const std::string& repl,
                               int64_t count, Budget& budget) {
  std::string out;
  int64_t done = 0;
  auto room = [&](size_t extra) { return budget.string_size(out.size() + extra); };
  if (old.empty()) {  // inserts between characters and at both ends
    for (size_t i = 0; i <= s.size();) {
      if (count < 0 || done < count) {
        DSV3_RETURN_IF_ERROR(room(repl.size()));
        out += repl;
        ++done;
      }
      if (i == s.size()) break;
      size_t len = 1;
      utf8_decode(s, i, &len);
      out.append(s, i, len);
      i += len;
    }
    return out;
  }
  size_t prev = 0;
  for (size_t p = s.find(old); p != std::string::npos && (count < 0 || done < count);
       p = s.find(old, p + old.size())) {
    DSV3_RETURN_IF_ERROR(room(p - prev + repl.size()));
    out.append(s, prev, p - prev);
    out += repl;
    prev = p + old.size();
    ++done;
  }
  out.append(s, prev, std::string::npos);
  DSV3_RETURN_IF_ERROR(room(0));
  return out;
}

std::vector<std::string> split_lines(const std::string& s, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const uint32_t cp = utf8_decode(s, i, &len);
    const bool br = cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D ||
                    cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
    if (!br) {
      i += len;
      continue;
    }
    size_t end = i + len;
    if (cp == '\r' && end < s.size() && s[end] == '\n') ++end;
    lines.push_back(s.substr(start, (keepends ? end : i) - start));
    start = i = end;
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

}  // namespace dsv3::jinja
