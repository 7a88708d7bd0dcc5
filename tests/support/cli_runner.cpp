#include "support/cli_runner.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "support/temp_dir.h"
#include "support/test_env.h"

namespace dsv3::test {

CliRun run(const std::string& args, const std::string& stdin_text) {
  return run_command(std::string(DSV3_BINARY) + " " + args, stdin_text);
}

CliRun run_command(const std::string& command, const std::string& stdin_text) {
  TempDir d;
  write_file(d.file("in"), stdin_text);
  const std::string cmd = command + " >" + d.file("out") + " 2>" + d.file("err") + " <" + d.file("in");
  const int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128, read_file(d.file("out")), read_file(d.file("err"))};
}

CliRun run_interrupted(const std::string& args, const std::string& first, int delay_ms, const std::string& then,
                       const std::string& err_marker) {
  TempDir d;
  int in[2];
  if (::pipe(in) != 0) return {-1, "", "pipe failed"};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::close(in[1]);
    const std::string cmd = "exec " + std::string(DSV3_BINARY) + " " + args + " >" + d.file("out") + " 2>" + d.file("err");
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in[0]);
  ::signal(SIGPIPE, SIG_IGN);  // the child may be gone when we write; that is a test failure, not a crash
  auto write_all = [&](const std::string& s) { return ::write(in[1], s.data(), s.size()) == static_cast<ssize_t>(s.size()); };
  write_all(first);
  // interrupt only once the answer is streaming (sanitizer builds load slowly),
  // or once stderr shows the marker
  const bool streaming = wait_until([&] {
    return err_marker.empty() ? !read_file(d.file("out")).empty()
                              : read_file(d.file("err")).find(err_marker) != std::string::npos;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(streaming ? delay_ms : 0));
  ::kill(pid, SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  write_all(then);
  ::close(in[1]);
  int status = 0;
  // bounded wait: a hung process is killed and reported
  if (wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; })) {
    return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), read_file(d.file("out")),
            read_file(d.file("err"))};
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return {-2, read_file(d.file("out")), read_file(d.file("err")) + "\n(killed after DSV3_TEST_DEADLINE_S)"};
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : ",") + std::to_string(id);
  return s;
}

int answers_in(const std::string& err) {
  int n = 0;
  for (std::size_t at = err.find("[prompt: "); at != std::string::npos; at = err.find("[prompt: ", at + 1)) ++n;
  return n;
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace dsv3::test
