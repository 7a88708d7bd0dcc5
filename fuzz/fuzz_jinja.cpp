// Jinja templates of any text: parse, then render with a chat-like context
// under the default budget (time, output and nesting limits).
#include <nlohmann/json.hpp>

#include "fuzz_main.h"
#include "jinja/jinja.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                 {"role": "assistant", "content": "Hello", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "n": 3, "x": [1, 2.5, "a", null, true]})");
  auto t = dsv3::jinja::Template::parse(dsv3::fuzz::as_text(data, size));
  if (t.ok()) (void)t->render(context);
  return 0;
}
