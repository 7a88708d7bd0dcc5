// A named pipe for the file-reading tests, and a writer for it that can never
// hang a test: it opens the write end without blocking, retrying until a
// reader has opened the pipe or the test deadline passes.
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "support/test_env.h"

namespace dsv3::test {

inline bool make_fifo(const std::string& path) { return ::mkfifo(path.c_str(), 0600) == 0; }

// Opens the FIFO for writing once a reader holds it, writes `bytes` and
// closes it (the reader then sees end of file). False if no reader came.
inline bool write_fifo_when_read(const std::string& path, const std::string& bytes) {
  int fd = -1;
  const bool opened = wait_until([&] {
    fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // ENXIO while nobody reads
    return fd >= 0;
  });
  if (!opened) return false;
  // back to blocking writes: the reader drains the pipe
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return done == bytes.size();
}

}  // namespace dsv3::test
