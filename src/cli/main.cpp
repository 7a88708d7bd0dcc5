// dsv3: a DeepSeek-V3 inference engine. Subcommands are registered here; a
// bad flag or value prints one line on stderr and exits with code 2.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/flag_help.h"
#include "dist/communicator.h"
#include "ops/cpu/kernels.h"

#ifndef DSV3_GIT_COMMIT
#define DSV3_GIT_COMMIT "unknown"  // set by CMake at configure time
#endif
#ifndef DSV3_BUILD_TYPE
#define DSV3_BUILD_TYPE "none"
#endif

namespace {

// "dsv3 0.1.0 (commit abc1234, Release; CPU avx2, generic; CUDA off; MPI off)":
// what a bug report needs; the CPU list is what this CPU runs.
std::string version_text() {
#ifdef DSV3_HAVE_CUDA
  constexpr bool cuda = true;
#else
  constexpr bool cuda = false;
#endif
  return fmt::format("dsv3 {} (commit {}, {}; CPU {}; CUDA {}; MPI {})", dsv3::cli::kVersion, DSV3_GIT_COMMIT,
                     DSV3_BUILD_TYPE, fmt::join(dsv3::ops::cpu::available_isas(), ", "), cuda ? "on" : "off",
                     dsv3::dist::built_with_mpi() ? "on" : "off");
}

}  // namespace

int main(int argc, char** argv) {
  // first: MPI wants its arguments before anything else runs (under mpirun)
  auto world = dsv3::dist::World::open(&argc, &argv);
  if (!world) {
    std::fprintf(stderr, "dsv3: error: %s\n", world.error().message.c_str());
    return 1;
  }
  // DSV3_ISA forces the CPU kernels; a value this CPU cannot run must not
  // silently fall back to the default (a benchmark would report the wrong kernels)
  if (const char* isa = std::getenv("DSV3_ISA"); isa != nullptr && *isa != '\0') {
    const auto available = dsv3::ops::cpu::available_isas();
    if (std::find(available.begin(), available.end(), isa) == available.end()) {
      std::fprintf(stderr, "dsv3: error: DSV3_ISA=%s is not an instruction set this CPU runs (available: %s)\n", isa,
                   fmt::format("{}", fmt::join(available, ", ")).c_str());
      return 2;
    }
  }
  CLI::App app{"dsv3: DeepSeek-V3 inference engine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text());
  int exit_code = 0;
  dsv3::cli::add_logits(app, exit_code);
  dsv3::cli::add_generate(app, exit_code);
  dsv3::cli::add_inspect(app, exit_code);
  dsv3::cli::add_run(app, exit_code);
  dsv3::cli::add_chat(app, exit_code);
  dsv3::cli::add_tokenize(app, exit_code);
  dsv3::cli::add_detokenize(app, exit_code);
  dsv3::cli::add_chat_template(app, exit_code);
  dsv3::cli::add_synth(app, exit_code);
  dsv3::cli::add_bench(app, exit_code);
  dsv3::cli::add_serve(app, exit_code);
  dsv3::cli::add_quantize(app, exit_code);
  dsv3::cli::add_pull(app, exit_code);
  dsv3::cli::take_last_of_repeats(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (char& ch : msg)
      if (ch == '\n') ch = ' ';
    const std::string hint = dsv3::cli::did_you_mean(app, argc, argv);
    std::fprintf(stderr, "dsv3: error: %s%s (see dsv3 --help)\n", msg.c_str(), hint.c_str());
    return 2;
  }
  return exit_code;
}
