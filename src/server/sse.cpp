#include "server/sse.h"

#include "server/json_dump.h"

namespace dsv3::server {

std::string sse_data(std::string_view payload, std::string_view event) {
  std::string out;
  out.reserve(payload.size() + event.size() + 24);
  if (!event.empty()) {
    out += "event: ";
    // a line break would end the field early and let the rest pose as other fields
    for (char c : event)
      if (c != '\n' && c != '\r') out += c;
    out += '\n';
  }
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

std::string sse_event(const nlohmann::json& j, std::string_view event) { return sse_data(dump(j), event); }

}  // namespace dsv3::server
