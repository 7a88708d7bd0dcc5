// Shared by the assistant-output fuzz targets: stream the text in pieces
// whose sizes come from a seed, and abort where the stream and
// parse_assistant_output() disagree on what the header promises.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "text/assistant_output.h"
#include "text/utf8.h"

namespace dsv3::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

inline void stream_matches_parse(std::string_view text, text::OutputFormat format, uint32_t seed) {
  const text::AssistantOutput whole = text::parse_assistant_output(text, format);
  const bool valid = text::is_valid_utf8(text);
  text::AssistantOutputParser parser(format);
  text::AssistantOutput got;
  auto take = [&](const text::OutputDelta& d) {
    // whole characters only, so the server can put deltas in JSON
    if (valid) check(text::is_valid_utf8(d.reasoning) && text::is_valid_utf8(d.content));
    got.reasoning += d.reasoning;
    got.content += d.content;
    for (const auto& c : d.tool_calls) {
      check(c.index >= 0 && static_cast<std::size_t>(c.index) <= got.tool_calls.size());
      if (static_cast<std::size_t>(c.index) == got.tool_calls.size()) {
        check(!c.name.empty());
        got.tool_calls.push_back({c.name, ""});
      } else {
        check(c.name.empty());
      }
      if (valid) check(text::is_valid_utf8(c.arguments));
      got.tool_calls[c.index].arguments += c.arguments;
    }
  };
  std::size_t at = 0;
  while (at < text.size()) {
    seed = seed * 1103515245u + 12345u;  // piece sizes 0..15, empty pieces included
    const std::size_t n = (seed >> 16) % 16;
    take(parser.feed(text.substr(at, n)));
    at += std::min(n, text.size() - at);
  }
  take(parser.finish());
  const std::size_t complete = static_cast<std::size_t>(parser.complete_tool_calls());
  check(complete == whole.tool_calls.size());
  check(got.reasoning == whole.reasoning);
  for (std::size_t i = 0; i < complete; ++i)
    check(got.tool_calls[i].name == whole.tool_calls[i].name && got.tool_calls[i].arguments == whole.tool_calls[i].arguments);
  // a call left open has sent deltas that parse() makes content: only then may they differ
  if (got.tool_calls.size() == complete) check(got.content == whole.content);
  else check(got.tool_calls.size() == complete + 1);
}

}  // namespace dsv3::fuzz
