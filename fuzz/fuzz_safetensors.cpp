// A safetensors file of any bytes (written to a memory file, since the
// reader maps files): header JSON, offsets and dtypes are checked.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "fuzz_main.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("safetensors", 0);
  if (fd < 0) std::abort();
  if (size > 0 && write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  (void)dsv3::SafetensorsFile::open("/proc/self/fd/" + std::to_string(fd));
  close(fd);
  return 0;
}
