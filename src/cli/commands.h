// The dsv3 subcommands. Each returns a process exit code: 0 ok, 1 runtime
// failure, 2 bad input (flags, files, ids).
#pragma once
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace dsv3::cli {

struct CommonOptions {
  std::string model;
  int threads = 0;  // 0: all cores
};

void add_logits(CLI::App& app, int& exit_code);
void add_generate(CLI::App& app, int& exit_code);
void add_inspect(CLI::App& app, int& exit_code);

}  // namespace dsv3::cli
