// The reasoning parser ("<think> ... </think>", no tools) over any bytes: the
// first byte says whether the prompt opened the reasoning and seeds the piece
// sizes of the stream, which must agree with parse_assistant_output().
#include "assistant_output_check.h"
#include "fuzz_main.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const dsv3::text::OutputFormat format{dsv3::text::ToolCallFormat::kNone, true, (data[0] & 1) != 0};
  const std::string_view text = dsv3::fuzz::as_text(data + 1, size - 1);
  dsv3::fuzz::stream_matches_parse(text, format, data[0] >> 1);
  // without "<think>" at the start nothing is reasoning and the text is kept whole
  const std::size_t lead = text.find_first_not_of(" \t\n\r\f\v");
  if (!format.starts_in_reasoning && (lead == std::string_view::npos || !text.substr(lead).starts_with("<think>"))) {
    const auto r = dsv3::text::parse_assistant_output(text, format);
    dsv3::fuzz::check(r.reasoning.empty() && r.content == text);
  }
  (void)dsv3::text::prompt_opens_reasoning(text);
  return 0;
}
