// `synth` writes random-weight checkpoints to benchmark with; `bench`
// measures prefill and decode speed against the machine's memory bandwidth.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <vector>

#include "cli/commands.h"
#include "cli/common.h"
#include "model/rank_steps.h"
#include "cuda/cuda_forward.h"
#include "benchkit/membw.h"
#include "engine/session.h"
#include "benchkit/synth.h"
#include "ops/cpu/kernels.h"

#ifndef DSV3_SOURCE_DIR
#define DSV3_SOURCE_DIR "."
#endif

namespace dsv3::cli {
namespace {
struct Bandwidth {
  double triad = 0.0, read = 0.0;  // GB/s
};
Bandwidth probe_bandwidth(ThreadPool& pool) { return {measure_triad_gbps(pool), measure_read_gbps(pool)}; }
}  // namespace

void add_synth(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<SynthOptions>();
  o->tokenizer_dir = std::string(DSV3_SOURCE_DIR) + "/tests/data/reference/models/tiny";
  CLI::App* cmd = app.add_subcommand("synth", "write a random-weight DeepSeek-V3 checkpoint (Hugging Face layout)");
  cmd->add_option("--preset", o->preset, "v3-mini, v3-slice, tiny or expert-heavy")->required();
  cmd->add_option("--dtype", o->dtype, "bf16 or fp8 (official 128x128 block layout)");
  cmd->add_option("--layers", o->layers, "number of layers (default: the preset's)");
  cmd->add_option("--seed", o->seed, "random seed (same seed, same files)");
  cmd->add_option("--out", o->out, "output directory")->required();
  cmd->add_option("--tokenizer-from", o->tokenizer_dir, "copy tokenizer files from this directory");
  cmd->callback([o, &exit_code] {
    const bool tty = ::isatty(STDERR_FILENO);
    int last = -1;
    auto progress = [&](uint64_t done, uint64_t total) {
      const int pct = total ? static_cast<int>(100 * done / total) : 100;
      if (!tty || pct == last) return;
      last = pct;
      std::fprintf(stderr, "\rwriting %s / %s (%d%%)", human_bytes(static_cast<double>(done)).c_str(),
                   human_bytes(static_cast<double>(total)).c_str(), pct);
      if (done == total) std::fprintf(stderr, "\n");
    };
    if (Status st = write_synthetic_checkpoint(*o, progress); !st) return void(exit_code = fail(2, st.error()));
  });
}

void add_bench(CLI::App& app, int& exit_code) {
  struct Opts {
    ModelOptions model;
    int64_t prompt_tokens = 512, gen_tokens = 64, context = 0, warmup = 1, batch = 1;
    bool json = false, skip_membw = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("bench", "measure prefill and decode speed and the memory bandwidth");
  o->model.add_to(cmd);
  cmd->add_option("--prompt-tokens", o->prompt_tokens, "prefill length")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--gen-tokens", o->gen_tokens, "decoded tokens")->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--context", o->context, "context length before decoding (default: the prompt)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 22));
  cmd->add_option("--warmup", o->warmup,
                  "untimed prefills before the timed one (the first maps the weights' pages in: reported as cold)")
      ->check(CLI::Range(int64_t{0}, int64_t{16}))
      ->capture_default_str();
  cmd->add_option("--batch", o->batch,
                  "also decode this many sequences together (batched forward), each after its own prompt")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print one JSON object");
  cmd->add_flag("--skip-membw", o->skip_membw, "do not run the bandwidth probe");
  cmd->callback([o, &exit_code] {
    using clock = std::chrono::steady_clock;
    auto l = load_model(o->model);
    if (!l) return void(exit_code = fail(2, l.error()));
    const ModelConfig& c = l->model->config;
    std::mt19937 rng(1);
    auto random_ids = [&](int64_t n) {
      std::vector<int32_t> v(static_cast<std::size_t>(n));
      for (auto& x : v) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.vocab_size));
      return v;
    };
    // warm-up prefills (the first one touches every weight page), then the timed one
    double cold_prefill_s = 0.0;
    for (int64_t w = 0; w < o->warmup; ++w) {
      Session warm(*l->transformer, 512, o->model.cache());
      const auto t = clock::now();
      if (Status st = warm.append(random_ids(o->prompt_tokens)); !st) return void(exit_code = fail(1, st.error()));
      if (w == 0) cold_prefill_s = std::chrono::duration<double>(clock::now() - t).count();
    }
    Session s(*l->transformer, 512, o->model.cache());
    const auto prompt = random_ids(o->prompt_tokens);
    auto t0 = clock::now();
    if (Status st = s.append(prompt); !st) return void(exit_code = fail(1, st.error()));
    const double prefill_s = std::chrono::duration<double>(clock::now() - t0).count();
    if (o->warmup == 0) cold_prefill_s = prefill_s;
    if (o->context > o->prompt_tokens) {  // grow the context, untimed
      if (Status st = s.append(random_ids(o->context - o->prompt_tokens)); !st) return void(exit_code = fail(1, st.error()));
    }
    const int64_t ctx0 = s.position();
    // The machine's bandwidth drifts by tens of percent within minutes, so the
    // probes run right before and right after the timed decode.
    const bool cpu_probe = !o->skip_membw && o->model.device == "cpu";
    Bandwidth before, after;
    if (cpu_probe) before = probe_bandwidth(*l->pool);
    // a split job: each rank's collectives are counted over the timed decode alone
    auto* leader = dynamic_cast<LeaderForward*>(l->transformer.get());
    if (leader != nullptr) {
      if (auto r = leader->reports(true); !r) return void(exit_code = fail(1, r.error()));
    }
    t0 = clock::now();
    for (int64_t i = 0; i < o->gen_tokens; ++i) {
      const int32_t next = argmax(s.last_logits().data(), c.vocab_size);
      if (Status st = s.append(std::span<const int32_t>(&next, 1)); !st) return void(exit_code = fail(1, st.error()));
    }
    const double decode_s = std::chrono::duration<double>(clock::now() - t0).count();
    std::vector<RankReport> ranks;
    double sum_s = 0.0, sum_v3_s = 0.0;  // one sum of a token's hidden state over the ranks, all of them ready
    if (leader != nullptr) {
      auto r = leader->reports(false);
      if (!r) return void(exit_code = fail(1, r.error()));
      ranks = std::move(*r);
      auto t = leader->time_sums(200, c.hidden_size);
      if (!t) return void(exit_code = fail(1, t.error()));
      sum_s = *t;
      // and at DeepSeek-V3's width (7168), to project the full model from this run
      auto v3 = leader->time_sums(200, 7168);
      if (!v3) return void(exit_code = fail(1, v3.error()));
      sum_v3_s = *v3;
    }
    if (cpu_probe) after = probe_bandwidth(*l->pool);
    // batched decode: o->batch sequences at the same context, one token each per step
    double batch_s = 0.0;
    if (o->batch > 1) {
      ForwardPass& fp = *l->transformer;
      const auto nb = static_cast<std::size_t>(o->batch);
      const int64_t ctx = std::max(o->prompt_tokens, o->context);
      std::vector<LatentCache> caches;
      caches.reserve(nb);
      std::vector<int32_t> next(nb);
      std::vector<float> hidden(static_cast<std::size_t>(ctx * c.hidden_size));
      std::vector<float> logits(static_cast<std::size_t>(o->batch * c.vocab_size));
      for (std::size_t k = 0; k < nb; ++k) {  // prompts, untimed
        caches.push_back(fp.make_cache(ctx + o->gen_tokens, o->model.cache()));
        const auto ids = random_ids(ctx);
        if (Status st = fp.forward(ids, 0, caches.back(), hidden.data()); !st) return void(exit_code = fail(1, st.error()));
        if (Status st = fp.logits(hidden.data() + (ctx - 1) * c.hidden_size, 1, logits.data()); !st)
          return void(exit_code = fail(1, st.error()));
        next[k] = argmax(logits.data(), c.vocab_size);
      }
      std::vector<SequenceChunk> chunks(nb);
      t0 = clock::now();
      for (int64_t step = 0; step < o->gen_tokens; ++step) {
        for (std::size_t k = 0; k < nb; ++k) chunks[k] = SequenceChunk{std::span<const int32_t>(&next[k], 1), ctx + step, &caches[k]};
        if (Status st = fp.forward(chunks, hidden.data()); !st) return void(exit_code = fail(1, st.error()));
        if (Status st = fp.logits(hidden.data(), o->batch, logits.data()); !st) return void(exit_code = fail(1, st.error()));
        for (std::size_t k = 0; k < nb; ++k)
          next[k] = argmax(logits.data() + static_cast<int64_t>(k) * c.vocab_size, c.vocab_size);
      }
      batch_s = std::chrono::duration<double>(clock::now() - t0).count();
    }
    const WeightStats ws = weight_stats(l->model->weights, c);
    const double avg_ctx = static_cast<double>(ctx0) + static_cast<double>(o->gen_tokens) / 2.0;
    const double cache_bytes =
        avg_ctx * static_cast<double>(c.num_hidden_layers * c.cache_width() * dtype_size(o->model.cache()));
    const double tps = static_cast<double>(o->gen_tokens) / decode_s;
    const double bytes = static_cast<double>(ws.active_bytes) + cache_bytes;
    // the ceiling: the CPU's triad bandwidth, or the GPU's device-to-device copy
    const bool gpu = o->model.device != "cpu";
    double membw = (before.triad + after.triad) / 2.0;
    const double read_bw = (before.read + after.read) / 2.0;
    if (!o->skip_membw && gpu) {
      const int index = o->model.device.size() > 5 ? std::stoi(o->model.device.substr(5)) : 0;
      auto bw = cuda::copy_bandwidth_gbps(index);
      if (!bw) return void(exit_code = fail(1, bw.error()));
      membw = *bw;
    }
    nlohmann::json j = {
        {"model", o->model.model},
        {"device", l->transformer->device()},
        {"isa", gpu ? "" : ops::cpu::kernels().name},  // the CPU kernels (DSV3_ISA forces them)
        {"threads", l->pool->size()},
        {"cache_dtype", o->model.cache_dtype},
        {"precision", o->model.precision},
        {"prompt_tokens", o->prompt_tokens},
        {"gen_tokens", o->gen_tokens},
        {"decode_context_start", ctx0},
        {"prefill_tokens_per_s", static_cast<double>(o->prompt_tokens) / prefill_s},
        {"cold_prefill_tokens_per_s", static_cast<double>(o->prompt_tokens) / cold_prefill_s},
        {"warmup", o->warmup},
        {"decode_tokens_per_s", tps},
        {"decode_bytes_per_token", bytes},
        {"decode_weight_bytes_per_token", ws.active_bytes},
        {"decode_cache_bytes_per_token", cache_bytes},
        {"decode_gb_per_s", bytes * tps / 1e9},
        {"membw_gb_per_s", membw},
        {"decode_fraction_of_membw", membw > 0 ? bytes * tps / 1e9 / membw : 0.0},
        {"membw_triad_before_after_gb_per_s", {before.triad, after.triad}},
        {"membw_read_gb_per_s", read_bw},
        {"decode_fraction_of_read", read_bw > 0 ? bytes * tps / 1e9 / read_bw : 0.0},
        {"batch", o->batch},
        {"batch_decode_tokens_per_s", batch_s > 0 ? static_cast<double>(o->batch * o->gen_tokens) / batch_s : 0.0},
        {"batch_decode_step_ms", batch_s > 0 ? batch_s * 1e3 / static_cast<double>(o->gen_tokens) : 0.0},
        // weight matmuls of the prompt: lm_head runs for the last row only
        {"prefill_gflop_per_s", 2.0 *
                                    (static_cast<double>(ws.active_params - c.vocab_size * c.hidden_size) * o->prompt_tokens +
                                     static_cast<double>(c.vocab_size * c.hidden_size)) /
                                    prefill_s / 1e9},
    };
    int64_t moe_layers = 0;
    for (int64_t k = 0; k < c.num_hidden_layers; ++k) moe_layers += c.is_moe_layer(k);
    if (!ranks.empty()) {
      nlohmann::json rs = nlohmann::json::array();
      const double tokens = static_cast<double>(o->gen_tokens);
      for (std::size_t r = 0; r < ranks.size(); ++r) {
        const RankReport& x = ranks[r];
        rs.push_back({{"rank", r},
                      {"weight_bytes", x.weight_bytes},
                      {"active_bytes_per_token", x.active_bytes},
                      {"resident_bytes", x.resident_bytes},
                      {"collectives_per_token", static_cast<double>(x.collectives.calls) / tokens},
                      {"collective_ms_per_token", x.collectives.seconds * 1e3 / tokens},
                      {"collective_bytes_per_token", static_cast<double>(x.collectives.bytes) / tokens},
                      {"collective_us_per_moe_layer",
                       moe_layers > 0 ? x.collectives.seconds * 1e6 / tokens / static_cast<double>(moe_layers) : 0.0}});
      }
      j["ranks"] = rs;
      j["parallel"] = o->model.parallel;
      j["sum_of_hidden_us"] = sum_s * 1e6;
      j["sum_of_7168_floats_us"] = sum_v3_s * 1e6;
    }
    if (o->json) {
      std::printf("%s\n", j.dump().c_str());
      return;
    }
    std::printf("%s", fmt::format("prefill  {:.1f} tokens/s ({} tokens, {:.1f} GFLOP/s in weight matmuls)\n"
                                  "decode   {:.2f} tokens/s at context {}..{}\n"
                                  "         {} read per token ({} weights + {} cache), {:.1f} GB/s\n",
                                  j["prefill_tokens_per_s"].get<double>(), o->prompt_tokens,
                                  j["prefill_gflop_per_s"].get<double>(), tps, ctx0, ctx0 + o->gen_tokens,
                                  human_bytes(bytes), human_bytes(static_cast<double>(ws.active_bytes)),
                                  human_bytes(cache_bytes), bytes * tps / 1e9).c_str());
    if (o->skip_membw)
      std::printf("membw    not measured (--skip-membw)\n");
    else
      std::printf("%s", fmt::format("membw    {:.1f} GB/s ({}); decode uses {:.0f}%\n", membw,
                                    gpu ? "GPU copy" : "triad", 100.0 * j["decode_fraction_of_membw"].get<double>())
                            .c_str());
    if (cpu_probe)
      std::printf("%s", fmt::format("         triad {:.1f} before and {:.1f} after decode; read {:.1f} GB/s, decode "
                                    "uses {:.0f}% of it\n",
                                    before.triad, after.triad, read_bw,
                                    100.0 * j["decode_fraction_of_read"].get<double>()).c_str());
    if (!ranks.empty())
      std::printf("%s", fmt::format("ranks    {} ({}); one sum of a token's hidden state over them: {:.1f} us\n",
                                    ranks.size(), o->model.parallel, sum_s * 1e6).c_str());
    for (std::size_t r = 0; r < ranks.size(); ++r)
      std::printf("%s", fmt::format("rank {:<3} {} weights ({} resident), {} read per token; collectives {:.3f} ms "
                                    "per token\n",
                                    r, human_bytes(static_cast<double>(ranks[r].weight_bytes)),
                                    human_bytes(static_cast<double>(ranks[r].resident_bytes)),
                                    human_bytes(static_cast<double>(ranks[r].active_bytes)),
                                    ranks[r].collectives.seconds * 1e3 / static_cast<double>(o->gen_tokens)).c_str());
    if (o->batch > 1)
      std::printf("%s", fmt::format("batch    {} sequences: {:.1f} tokens/s ({:.2f} ms per step) at context {}..{}\n",
                                    o->batch, j["batch_decode_tokens_per_s"].get<double>(),
                                    j["batch_decode_step_ms"].get<double>(), std::max(o->prompt_tokens, o->context),
                                    std::max(o->prompt_tokens, o->context) + o->gen_tokens).c_str());
  });
}

}  // namespace dsv3::cli
