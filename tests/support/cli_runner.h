// Runs the dsv3 binary built beside the tests and captures what it prints.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dsv3::test {

struct CliRun {
  int code;
  std::string out, err;
};

// args are passed through the shell; stdin_text is fed on standard input.
CliRun run(const std::string& args, const std::string& stdin_text = "");
// Any shell command line (e.g. mpirun ... dsv3 ...).
CliRun run_command(const std::string& command, const std::string& stdin_text = "");

// Starts dsv3 with args, writes `first` to its stdin, waits `delay_ms`
// once its stdout shows output, sends SIGINT, writes `then`, closes stdin and
// collects the result.
// With err_marker: waits for it on stderr instead of for output on stdout.
CliRun run_interrupted(const std::string& args, const std::string& first, int delay_ms, const std::string& then,
                       const std::string& err_marker = "");

int lines(const std::string& s);

// "0,5,9": token ids as --ids takes them.
std::string join_ids(const std::vector<int32_t>& ids);
// How many answers `run`/`chat` reported (one speed line on stderr each).
int answers_in(const std::string& err);

}  // namespace dsv3::test
