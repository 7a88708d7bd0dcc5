#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "engine/model_text.h"
#include "engine/completion.h"
#include "engine/session.h"
#include "model/rank_footprint.h"
#include "model/safetensors.h"
#include "text/tokenizer.h"

namespace dsv3::cli {

void add_logits(CLI::App& app, int& exit_code) {
  struct Opts {
    ModelOptions model;
    std::string ids, out;
    int64_t chunk = 512;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("logits", "write the logits of every position to a safetensors file");
  o->model.add_to(cmd);
  cmd->add_option("--ids", o->ids, "comma-separated token ids")->required();
  cmd->add_option("--out", o->out, "output .safetensors (tensor \"logits\" F32 [ids, vocab])")->required();
  cmd->add_option("--chunk", o->chunk, "prefill chunk size (0: whole prompt at once)")->check(CLI::Range(0, 1 << 30));
  cmd->callback([o, &exit_code] {
    auto ids = parse_ids(o->ids, "--ids");
    if (!ids) return void(exit_code = fail(2, ids.error()));
    auto l = load_model(o->model);
    if (!l) return void(exit_code = fail(2, l.error()));
    Session s(*l->transformer, o->chunk, o->model.cache());
    std::vector<float> logits;
    if (Status st = s.append(*ids, &logits); !st) return void(exit_code = fail(2, st.error()));
    const std::vector<int64_t> shape{static_cast<int64_t>(ids->size()), s.vocab_size()};
    if (Status st = write_safetensors(o->out, {{"logits", DType::F32, shape, logits.data()}}); !st)
      return void(exit_code = fail(1, st.error()));
  });
}

void add_generate(CLI::App& app, int& exit_code) {
  struct Opts {
    ModelOptions model;
    SamplingOptions sampling;
    std::string ids;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("generate", "continue a sequence of token ids (greedy unless --temperature)");
  o->model.add_to(cmd);
  o->sampling.add_to(cmd, 16);
  cmd->add_option("--ids", o->ids, "comma-separated prompt token ids")->required();
  cmd->add_flag("--json", o->json, "print {\"ids\": [...], ...}");
  cmd->callback([o, &exit_code] {
    auto ids = parse_ids(o->ids, "--ids");
    if (!ids) return void(exit_code = fail(2, ids.error()));
    if (Status st = o->sampling.check(); !st) return void(exit_code = fail(2, st.error()));
    auto l = load_model(o->model);
    if (!l) return void(exit_code = fail(2, l.error()));
    // token ids in, token ids out: deterministic unless asked otherwise
    SamplingOptions so = o->sampling;
    if (!so.temperature) so.temperature = 0.0f;
    const SamplingParams sp = so.params(o->model.model);
    if (Status st = sp.validate(l->model->config.vocab_size); !st) return void(exit_code = fail(2, st.error()));
    std::unique_ptr<text::Tokenizer> tokenizer;  // optional: only for the text field and stop strings
    if (has_tokenizer(o->model.model)) {
      auto t = load_tokenizer(*l->model);
      if (!t) return void(exit_code = fail(2, t.error()));
      tokenizer = std::move(t).value();
    }
    nlohmann::json j;
    const auto t0 = std::chrono::steady_clock::now();
    if (so.beams) {
      auto hyps = run_beams(*l, *ids, so, tokenizer.get());
      if (!hyps) return void(exit_code = fail(2, hyps.error()));
      j["ids"] = hyps->front().tokens;
      if (tokenizer) j["text"] = hyps->front().text;
      j["beams"] = nlohmann::json::array();
      for (const auto& h : *hyps) j["beams"].push_back({{"ids", h.tokens}, {"logprob", h.logprob}, {"score", h.score}});
    } else {
      Job job;
      job.prompt = *ids;
      job.sampling = sp;
      job.max_tokens = so.max_tokens;
      job.stop = so.stop;
      // ids-level generation runs to --max-tokens (no EOS stop), as the reference's greedy paths do
      Scheduler scheduler(*l->transformer, tokenizer.get(), one_sequence_options(o->model.cache()));
      auto r = complete(scheduler, std::move(job));
      if (!r) return void(exit_code = fail(2, r.error()));
      j["ids"] = r->tokens;
      j["finish_reason"] = std::string(finish_reason_name(r->finish));
      if (tokenizer) j["text"] = r->text;
    }
    j["prompt_tokens"] = ids->size();
    j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (o->json) {
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s\n", fmt::format("{}", fmt::join(j["ids"].get<std::vector<int32_t>>(), ",")).c_str());
    }
  });
}

namespace {

// A checkpoint, or a config.json alone (a directory without weights, or the
// file itself): the latter as a weightless table of the official layout.
Result<std::unique_ptr<Model>> load_for_inspect(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path config;
  if (fs::is_regular_file(path, ec) && fs::path(path).extension() == ".json") {
    config = path;
  } else if (fs::is_directory(path, ec) && fs::exists(fs::path(path) / "config.json", ec) &&
             !fs::exists(fs::path(path) / "model.safetensors", ec) &&
             !fs::exists(fs::path(path) / "model.safetensors.index.json", ec)) {
    config = fs::path(path) / "config.json";
  } else {
    return Model::load(path);
  }
  auto m = std::make_unique<Model>();
  DSV3_ASSIGN_OR_RETURN(m->config, load_config(config.string()));
  m->checkpoint = Checkpoint::shaped(m->config, config.string() + " (no weights: planned)");
  DSV3_ASSIGN_OR_RETURN(m->weights, bind_weights(m->checkpoint, m->config));
  return m;
}

}  // namespace

void add_inspect(CLI::App& app, int& exit_code) {
  struct Opts {
    std::string model;
    bool json = false;
    int ranks = 0;
    std::string parallel = "ep";
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("inspect", "print the architecture, sizes and dtypes of a checkpoint");
  cmd->add_option("-m,--model", o->model,
                  "checkpoint directory or GGUF file; a directory with config.json alone (or a config.json) is "
                  "planned as the official release stores it (fp8 where the config says so, else bf16); or ORG/NAME "
                  "pulled into the hub cache")
      ->required()
      ->transform(model_path());
  cmd->add_flag("--json", o->json, "machine-readable output");
  cmd->add_option("--ranks", o->ranks, "also print what each of N ranks of a split job (mpirun -np N) holds and reads")
      ->check(CLI::Range(1, 65536));
  cmd->add_option("--parallel", o->parallel, "the split --ranks plans: ep or ep+tp")
      ->check(CLI::IsMember({"ep", "ep+tp"}))
      ->capture_default_str();
  cmd->callback([o, &exit_code] {
    auto m = load_for_inspect(o->model);
    if (!m) return void(exit_code = fail(2, m.error()));
    const Model& model = **m;
    std::vector<RankFootprint> ranks;
    if (o->ranks > 0) {
      auto f = rank_footprints(model.checkpoint, model.config, o->ranks, parse_layout(o->parallel).value());
      if (!f) return void(exit_code = fail(2, f.error()));
      ranks = std::move(*f);
    }
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
    if (o->ranks > 0) {
      nlohmann::json rs = nlohmann::json::array();
      for (const RankFootprint& f : ranks)
        rs.push_back({{"rank", f.rank}, {"experts_per_layer", f.experts_per_layer}, {"heads", f.heads},
                      {"weight_bytes", f.weight_bytes}, {"expert_bytes", f.expert_bytes},
                      {"active_bytes_per_token", f.active_bytes}, {"cache_bytes_per_token_f32", f.cache_bytes_per_token},
                      {"collectives_per_token", f.sums_per_token},
                      {"collective_bytes_per_token", f.sum_bytes_per_token}});
      j["parallel"] = {{"ranks", o->ranks}, {"layout", o->parallel}, {"per_rank", rs}};
    }
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
        o->model, c.num_hidden_layers, dense, c.num_hidden_layers - dense, model.weights.mtp.size(),
        c.hidden_size, c.vocab_size, c.num_attention_heads, c.q_lora_rank, c.kv_lora_rank, c.qk_nope_head_dim,
        c.qk_rope_head_dim, c.v_head_dim, j["rope"].get<std::string>(), c.intermediate_size, c.n_routed_experts,
        c.num_experts_per_tok, c.n_group, c.topk_group, c.n_shared_experts, c.moe_intermediate_size, dt,
        ws.params / 1e6, human_bytes(static_cast<double>(ws.bytes)), ws.active_params / 1e6,
        human_bytes(static_cast<double>(ws.active_bytes)), ws.mtp_params / 1e6,
        human_bytes(static_cast<double>(ws.mtp_bytes)), c.cache_width(), human_bytes(static_cast<double>(cache_f32))).c_str());
    if (o->ranks == 0) return;
    std::printf("%s", fmt::format("split        {} ranks, {} (the latent cache is replicated on every rank)\n", o->ranks,
                                  o->parallel).c_str());
    std::printf("  rank  experts/layer  heads  weights        of which experts  read/token     cache/token  "
                "collectives/token\n");
    for (const RankFootprint& f : ranks)
      std::printf("%s", fmt::format("  {:>4}  {:>13}  {:>5}  {:<13}  {:<16}  {:<13}  {:<11}  {} ({})\n", f.rank,
                                    f.experts_per_layer, f.heads, human_bytes(static_cast<double>(f.weight_bytes)),
                                    human_bytes(static_cast<double>(f.expert_bytes)),
                                    human_bytes(static_cast<double>(f.active_bytes)),
                                    human_bytes(static_cast<double>(f.cache_bytes_per_token)), f.sums_per_token,
                                    human_bytes(static_cast<double>(f.sum_bytes_per_token))).c_str());
  });
}

}  // namespace dsv3::cli
