// The tool-call parser (both DeepSeek formats, reasoning on or off) over any
// bytes: the first byte picks the format, the second seeds the piece sizes
// of the stream, which must agree with parse_assistant_output().
#include "assistant_output_check.h"
#include "fuzz_main.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  using dsv3::text::ToolCallFormat;
  const dsv3::text::OutputFormat format{
      (data[0] & 1) ? ToolCallFormat::kDeepSeekV31 : ToolCallFormat::kDeepSeekV3, (data[0] & 2) != 0, (data[0] & 4) != 0};
  const std::string_view text = dsv3::fuzz::as_text(data + 2, size - 2);
  dsv3::fuzz::stream_matches_parse(text, format, data[1]);
  (void)dsv3::text::tool_format_of_template(text);
  return 0;
}
