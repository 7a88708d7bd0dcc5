#include "server/sse.h"

#include "server/openai_api.h"

namespace dsv3::server {

std::string sse_data(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 16);
  std::size_t start = 0;
  for (;;) {
    std::size_t nl = payload.find('\n', start);
    out += "data: ";
    out.append(payload.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    out += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out += '\n';
  return out;
}

std::string sse_event(const nlohmann::json& j) { return sse_data(dump(j)); }

}  // namespace dsv3::server
