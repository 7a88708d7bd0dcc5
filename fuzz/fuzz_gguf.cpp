// A GGUF file of any bytes: the header, metadata and tensor descriptions are
// checked against the file, or give an error.
#include "fuzz_main.h"
#include "model/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)dsv3::GgufFile::parse({reinterpret_cast<const std::byte*>(data), size}, "fuzz.gguf");
  return 0;
}
