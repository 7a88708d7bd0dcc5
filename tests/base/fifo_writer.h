// A named pipe for the file-reading tests, and a writer for it that can never
// hang a test: it opens the write end without blocking, retrying until a
// reader has opened the pipe or the test deadline passes.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <future>
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

// Calls `f`, which opens the FIFO at `path` and must refuse it, on another
// thread. Still blocked after the test deadline is a failure; a writer then
// opens and closes the pipe until the blocked open returns (its read sees end
// of file), so that the test always ends.
template <class F>
auto call_beside_fifo(const std::string& path, F&& f) {
  auto pending = std::async(std::launch::async, std::forward<F>(f));
  if (pending.wait_for(test_deadline()) != std::future_status::ready) {
    ADD_FAILURE() << "blocked opening the FIFO " << path;
    while (pending.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
      const int fd = ::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // ENXIO unless a reader waits
      if (fd >= 0) ::close(fd);
    }
  }
  return pending.get();
}

}  // namespace dsv3::test
