// dsv3 quantize: an HF checkpoint written as a GGUF file of a ggml quant mix.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "model/gguf_export.h"

namespace dsv3::cli {

void add_quantize(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<QuantizeOptions>();
  auto paths = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* cmd = app.add_subcommand(
      "quantize", "write a checkpoint as a GGUF file (llama.cpp's deepseek2 layout) in a ggml quantization mix");
  cmd->add_option("-m,--model", paths->first, "checkpoint directory (bf16, f32 or FP8 safetensors)")->required();
  auto* out = cmd->add_option("--out", paths->second, "output .gguf file");
  auto dry = std::make_shared<bool>(false);
  cmd->add_flag("--dry-run", *dry, "print the file's size per ggml type from config.json alone, write nothing");
  cmd->add_option("--type", o->type,
                  "f32, f16, bf16, q8_0, q4_0, q6_k, q5_k_m, q4_k_m, q3_k_m or q2_k (the _m mixes keep more bits "
                  "where llama.cpp's do)")
      ->capture_default_str();
  cmd->add_option("--keep", o->keep, "shell pattern over GGUF tensor names left unquantized (repeatable), e.g. 'blk.*.attn_*'");
  cmd->add_option("--name", o->name, "general.name (default: the directory's name)");
  cmd->add_option("--threads", o->threads, "threads (0: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--tokenizer-from", o->tokenizer_dir, "directory with tokenizer.json (default: the checkpoint's)");
  cmd->callback([o, paths, dry, out, &exit_code] {
    if (*dry) {
      auto cfg = load_config((std::filesystem::path(paths->first) / "config.json").string());
      if (!cfg) return void(exit_code = fail(2, cfg.error()));
      auto plan = plan_quantization(*cfg, *o);
      if (!plan) return void(exit_code = fail(2, plan.error()));
      for (const auto& [type, e] : plan->by_type)
        std::printf("%-5s %5lld tensors %10.3f B params %12s\n", type.c_str(), static_cast<long long>(e.tensors),
                    static_cast<double>(e.params) / 1e9, human_bytes(static_cast<double>(e.bytes)).c_str());
      std::printf("total       %10.3f B params %12s (%.2f bits per weight)\n", static_cast<double>(plan->params) / 1e9,
                  human_bytes(static_cast<double>(plan->bytes)).c_str(),
                  8.0 * static_cast<double>(plan->bytes) / static_cast<double>(plan->params));
      std::printf("read per decoded token: %s of weights\n", human_bytes(static_cast<double>(plan->active_bytes)).c_str());
      return;
    }
    if (out->count() == 0) return void(exit_code = fail(2, "--out is required (or --dry-run)"));
    const bool tty = ::isatty(STDERR_FILENO);
    auto progress = [&](std::size_t done, std::size_t total, const std::string& what) {
      if (tty) std::fprintf(stderr, "\r\033[K[%zu/%zu] %s", done, total, what.c_str());
      if (tty && done == total) std::fprintf(stderr, "\n");
    };
    if (Status st = quantize_to_gguf(paths->first, paths->second, *o, progress); !st)
      return void(exit_code = fail(2, st.error()));
  });
}

}  // namespace dsv3::cli
