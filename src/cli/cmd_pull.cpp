// `dsv3 pull ORG/NAME`: a Hugging Face repository into the shared hub cache;
// prints the snapshot directory, which --model takes (as does ORG/NAME).
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "hub/cache_layout.h"
#include "hub/pull.h"

namespace dsv3::cli {

namespace {

// "[#####     ] 1.20 GiB / 4.00 GiB  55.3 MiB/s  ETA 52 s  file 2/5 model-00002.safetensors"
class ProgressBar {
 public:
  void operator()(const hub::PullProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (!started_) {
      start_ = now;
      started_ = true;
    }
    const bool done = p.total_done >= p.total_size;
    if (!done && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double s = std::chrono::duration<double>(now - start_).count();
    const double rate = s > 0 ? static_cast<double>(p.total_done - first_done_) / s : 0.0;
    if (!have_first_) {
      first_done_ = p.total_done;  // bytes already cached do not count toward the rate
      have_first_ = true;
    }
    const double left = rate > 0 ? static_cast<double>(p.total_size - p.total_done) / rate : 0.0;
    constexpr int kWidth = 24;
    const int filled = p.total_size > 0 ? static_cast<int>(kWidth * p.total_done / p.total_size) : kWidth;
    std::fprintf(stderr, "\r[%s%s] %s / %s  %s/s  ETA %.0f s  file %d/%d %s\033[K", std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, ' ').c_str(), human_bytes(static_cast<double>(p.total_done)).c_str(),
                 human_bytes(static_cast<double>(p.total_size)).c_str(), human_bytes(rate).c_str(), left, p.index,
                 p.count, p.file.c_str());
    if (done) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  bool started_ = false, have_first_ = false;
  int64_t first_done_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace

void add_pull(CLI::App& app, int& exit_code) {
  struct Opts {
    hub::PullOptions pull;
    std::string quant;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand(
      "pull", "download a Hugging Face repository into the hub cache ($HF_HOME/hub, shared with Python tools); "
              "prints its directory. HF_TOKEN, HF_ENDPOINT and HF_HUB_OFFLINE are honoured");
  cmd->add_option("repo", o->pull.repo, "ORG/NAME, e.g. deepseek-ai/DeepSeek-V3")->required();
  cmd->add_option("--revision", o->pull.revision, "branch, tag or commit")->capture_default_str();
  cmd->add_option("--include", o->pull.include, "only files matching this shell pattern (repeatable), e.g. '*.json'");
  cmd->add_option("--quant", o->quant, "a GGUF repository: only the files of this quant (e.g. Q4_K_M), all its parts");
  cmd->callback([o, &exit_code] {
    hub::PullOptions p = o->pull;
    if (!o->quant.empty()) {
      for (const std::string& pat : hub::gguf_quant_patterns(o->quant)) p.include.push_back(pat);
    }
    ProgressBar bar;
    std::function<void(const hub::PullProgress&)> progress;
    if (::isatty(STDERR_FILENO)) progress = std::ref(bar);
    auto dir = hub::pull(hub::hub_options_from_env(), hub::cache_root(), p, progress);
    if (!dir) return void(exit_code = fail(1, dir.error()));
    std::printf("%s\n", dir->string().c_str());
  });
}

}  // namespace dsv3::cli
