// config.json: any bytes either parse into a checked ModelConfig or give an error.
#include "fuzz_main.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)dsv3::parse_config(std::string(dsv3::fuzz::as_text(data, size)), "fuzz");
  return 0;
}
