#include "cli/commands.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "cli/args.h"
#include "engine/session.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "model/transformer.h"

namespace dsv3::cli {

namespace {

int fail(int code, const Error& e) {
  std::fprintf(stderr, "dsv3: error: %s\n", e.message.c_str());
  return code;
}

void add_common(CLI::App* cmd, CommonOptions& o) {
  cmd->add_option("--model", o.model, "checkpoint directory (config.json + safetensors)")->required();
  cmd->add_option("--threads", o.threads, "worker threads (0: all cores)")->check(CLI::Range(0, 1024));
}

struct Loaded {
  std::unique_ptr<Model> model;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Transformer> transformer;
};

Result<Loaded> load(const CommonOptions& o) {
  Loaded l;
  DSV3_ASSIGN_OR_RETURN(l.model, Model::load(o.model));
  l.pool = std::make_unique<ThreadPool>(o.threads);
  l.transformer = std::make_unique<Transformer>(*l.model, l.pool.get());
  return l;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) {
    b /= 1024.0;
    ++u;
  }
  return fmt::format("{:.2f} {}", b, units[u]);
}

}  // namespace

void add_logits(CLI::App& app, int& exit_code) {
  struct Opts {
    CommonOptions common;
    std::string ids, out;
    int64_t chunk = 512;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("logits", "write the logits of every position to a safetensors file");
  add_common(cmd, o->common);
  cmd->add_option("--ids", o->ids, "comma-separated token ids")->required();
  cmd->add_option("--out", o->out, "output .safetensors (tensor \"logits\" F32 [ids, vocab])")->required();
  cmd->add_option("--chunk", o->chunk, "prefill chunk size (0: whole prompt at once)")->check(CLI::Range(0, 1 << 30));
  cmd->callback([o, &exit_code] {
    auto ids = parse_ids(o->ids, "--ids");
    if (!ids) return void(exit_code = fail(2, ids.error()));
    auto l = load(o->common);
    if (!l) return void(exit_code = fail(2, l.error()));
    Session s(*l->transformer, o->chunk);
    std::vector<float> logits;
    if (Status st = s.append(*ids, &logits); !st) return void(exit_code = fail(2, st.error()));
    const std::vector<int64_t> shape{static_cast<int64_t>(ids->size()), s.vocab_size()};
    if (Status st = write_safetensors(o->out, {{"logits", DType::F32, shape, logits.data()}}); !st)
      return void(exit_code = fail(1, st.error()));
  });
}

void add_generate(CLI::App& app, int& exit_code) {
  struct Opts {
    CommonOptions common;
    std::string ids;
    int64_t max_tokens = 16;
    double temperature = 0.0;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("generate", "continue a sequence of token ids");
  add_common(cmd, o->common);
  cmd->add_option("--ids", o->ids, "comma-separated prompt token ids")->required();
  cmd->add_option("--max-tokens", o->max_tokens, "tokens to generate")->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  cmd->add_option("--temperature", o->temperature, "0: greedy")->check(CLI::Range(0.0, 0.0));
  cmd->add_flag("--json", o->json, "print {\"ids\": [...], ...}");
  cmd->callback([o, &exit_code] {
    auto ids = parse_ids(o->ids, "--ids");
    if (!ids) return void(exit_code = fail(2, ids.error()));
    auto l = load(o->common);
    if (!l) return void(exit_code = fail(2, l.error()));
    Session s(*l->transformer);
    const auto t0 = std::chrono::steady_clock::now();
    auto out = generate_greedy(s, *ids, o->max_tokens);
    if (!out) return void(exit_code = fail(2, out.error()));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (o->json) {
      nlohmann::json j;
      j["ids"] = *out;
      j["prompt_tokens"] = ids->size();
      j["seconds"] = secs;
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s\n", fmt::format("{}", fmt::join(*out, ",")).c_str());
    }
  });
}

void add_inspect(CLI::App& app, int& exit_code) {
  struct Opts {
    CommonOptions common;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("inspect", "print the architecture, sizes and dtypes of a checkpoint");
  cmd->add_option("--model", o->common.model, "checkpoint directory")->required();
  cmd->add_flag("--json", o->json, "machine-readable output");
  cmd->callback([o, &exit_code] {
    auto m = Model::load(o->common.model);
    if (!m) return void(exit_code = fail(2, m.error()));
    const Model& model = **m;
    const ModelConfig& c = model.config;
    const WeightStats ws = weight_stats(model.weights, c);
    std::map<std::string, int64_t> dtype_counts;
    for (const auto& [name, t] : model.checkpoint.tensors()) dtype_counts[std::string(dtype_name(t->dtype))] += 1;
    const int64_t dense = c.num_hidden_layers - [&] {
      int64_t k = 0;
      for (int64_t l = 0; l < c.num_hidden_layers; ++l) k += c.is_moe_layer(l);
      return k;
    }();
    const int64_t cache_f32 = c.num_hidden_layers * c.cache_width() * 4;
    nlohmann::json j = {
        {"layers", c.num_hidden_layers},
        {"dense_layers", dense},
        {"moe_layers", c.num_hidden_layers - dense},
        {"mtp_layers", model.weights.mtp.size()},
        {"hidden_size", c.hidden_size},
        {"vocab_size", c.vocab_size},
        {"attention_heads", c.num_attention_heads},
        {"q_lora_rank", c.q_lora_rank},
        {"kv_lora_rank", c.kv_lora_rank},
        {"qk_nope_head_dim", c.qk_nope_head_dim},
        {"qk_rope_head_dim", c.qk_rope_head_dim},
        {"v_head_dim", c.v_head_dim},
        {"intermediate_size", c.intermediate_size},
        {"moe_intermediate_size", c.moe_intermediate_size},
        {"routed_experts", c.n_routed_experts},
        {"shared_experts", c.n_shared_experts},
        {"experts_per_token", c.num_experts_per_tok},
        {"expert_groups", c.n_group},
        {"topk_groups", c.topk_group},
        {"rope", c.yarn ? fmt::format("yarn factor {} (original {} positions)", c.yarn->factor,
                                      c.yarn->original_max_positions)
                        : std::string("plain")},
        {"tensor_dtypes", dtype_counts},
        {"params", ws.params},
        {"bytes", ws.bytes},
        {"active_params_per_token", ws.active_params},
        {"active_bytes_per_token", ws.active_bytes},
        {"mtp_params", ws.mtp_params},
        {"mtp_bytes", ws.mtp_bytes},
        {"cache_values_per_token_per_layer", c.cache_width()},
        {"cache_bytes_per_token_f32", cache_f32},
        {"files", model.checkpoint.file_count()},
    };
    if (o->json) {
      std::printf("%s\n", j.dump(1).c_str());
      return;
    }
    std::string dt;
    for (const auto& [k, v] : dtype_counts) dt += fmt::format("{} x{}  ", k, v);
    std::printf("%s", fmt::format(
        "model        {}\n"
        "layers       {} ({} dense, {} MoE) + {} MTP\n"
        "hidden       {}   vocab {}\n"
        "attention    MLA, {} heads, q_lora {}, kv_lora {}, qk {}+{} (nope+rope), v {}\n"
        "rope         {}\n"
        "mlp          dense {}; experts {} routed (top-{}, {} groups, top-{} groups) + {} shared, width {}\n"
        "dtypes       {}\n"
        "parameters   {:.3f} M total ({}), {:.3f} M active per token ({})\n"
        "mtp          {:.3f} M ({})\n"
        "MLA cache    {} values per token per layer = {} per token (f32)\n",
        o->common.model, c.num_hidden_layers, dense, c.num_hidden_layers - dense, model.weights.mtp.size(),
        c.hidden_size, c.vocab_size, c.num_attention_heads, c.q_lora_rank, c.kv_lora_rank, c.qk_nope_head_dim,
        c.qk_rope_head_dim, c.v_head_dim, j["rope"].get<std::string>(), c.intermediate_size, c.n_routed_experts,
        c.num_experts_per_tok, c.n_group, c.topk_group, c.n_shared_experts, c.moe_intermediate_size, dt,
        ws.params / 1e6, human_bytes(static_cast<double>(ws.bytes)), ws.active_params / 1e6,
        human_bytes(static_cast<double>(ws.active_bytes)), ws.mtp_params / 1e6,
        human_bytes(static_cast<double>(ws.mtp_bytes)), c.cache_width(), human_bytes(static_cast<double>(cache_f32))).c_str());
  });
}

}  // namespace dsv3::cli
