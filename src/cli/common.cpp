#include "cli/common.h"
#include "base/read_file.h"
#include "cuda/cuda_forward.h"
#include "dist/communicator.h"
#include "hub/cache_layout.h"
#include "model/head_dtype.h"
#include "model/rank_check.h"
#include "model/rank_steps.h"
#include "ops/cpu/kernels.h"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

namespace dsv3::cli {
namespace {

// "cuda" is GPU 0, "cuda:N" GPU N (N a plain decimal that fits an int); anything else: none.
std::optional<int> cuda_index(const std::string& d) {
  if (d == "cuda") return 0;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5) return std::nullopt;
  int n = 0;
  const char* end = d.data() + d.size();
  const auto [p, ec] = std::from_chars(d.data() + 5, end, n);
  if (ec != std::errc() || p != end || d[5] == '-' || d[5] == '+') return std::nullopt;
  return n;
}

}  // namespace

int fail(int code, const Error& e) { return fail(code, e.message); }

int fail(int code, const std::string& message) {
  std::string m = message;
  for (char& ch : m)
    if (ch == '\n') ch = ' ';
  std::fprintf(stderr, "dsv3: error: %s\n", m.c_str());
  return code;
}

Result<std::string> resolve_model_path(const std::string& model) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(model, ec) || !hub::check_repo_id(model).ok()) return model;
  DSV3_ASSIGN_OR_RETURN(const fs::path snap, hub::cached_snapshot(hub::cache_root(), model, "main"));
  if (fs::exists(snap / "config.json", ec)) return snap.string();
  std::vector<std::string> models;
  for (auto it = fs::recursive_directory_iterator(snap, ec); !ec && it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->path().extension() != ".gguf") continue;
    const bool part = name.find("-of-") != std::string::npos;
    if (!part || name.find("-00001-of-") != std::string::npos) models.push_back(it->path().string());
  }
  std::sort(models.begin(), models.end());
  if (models.size() == 1) return models[0];
  if (models.empty()) return make_error("{}: the cached snapshot {} has no config.json and no GGUF file", model, snap.string());
  return make_error("{}: the cached snapshot holds {} GGUF models; name one with --model: {}", model, models.size(),
                    fmt::join(models, ", "));
}

CLI::Validator model_path() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        auto r = resolve_model_path(v);
        if (!r) return r.error().message;
        v = *r;
        return {};
      },
      "DIR|FILE|ORG/NAME");
}

void ModelOptions::add_to(CLI::App* cmd) {
  cmd->add_option("-m,--model", model,
                  "checkpoint directory (config.json, safetensors, tokenizer files), a GGUF file, or ORG/NAME pulled "
                  "into the hub cache (dsv3 pull)")
      ->required()
      ->transform(model_path());
  cmd->add_option("-t,--threads", threads, "worker threads (0: all cores)")->check(CLI::Range(0, 1024));
  cmd->add_option("--cache-dtype", cache_dtype, "latent cache storage: f32 (exact) or f16 (half the bytes)")
      ->check(CLI::IsMember({"f32", "f16"}));
  cmd->add_option("--precision", precision,
                  "prefill weight products: exact (f32, what the reference computes) or bf16 (activations rounded "
                  "to bf16, f32 sums: faster on CPUs with AVX512-BF16, logits move by a few 1e-2)")
      ->check(CLI::IsMember({"bf16", "exact"}))
      ->capture_default_str();
  cmd->add_option("--head-dtype", head_dtype,
                  "lm_head re-stored at load: stored (as the checkpoint has it), q8_0 or q6_k (fewer bytes read per "
                  "decoded token; logits move slightly, see docs/quantized.md)")
      ->check(CLI::IsMember({"stored", "q8_0", "q6_k"}))
      ->capture_default_str();
  cmd->add_option("--device", device, "where the model runs: cpu, or cuda (GPU 0) / cuda:N")
      ->check([](const std::string& d) -> std::string {
        if (d == "cpu" || cuda_index(d)) return {};
        return "device must be cpu, cuda or cuda:N, not '" + d + "'";
      })
      ->capture_default_str();
  cmd->add_option("--parallel", parallel,
                  "under mpirun: how the model is split across the ranks: ep (routed experts split, the rest "
                  "replicated) or ep+tp (attention heads, MLP columns and the vocabulary split too); see "
                  "docs/scale-out.md")
      ->check(CLI::IsMember({"ep", "ep+tp"}))
      ->capture_default_str();
  cmd->add_option("--rank-timeout", rank_timeout,
                  "under mpirun: seconds a rank waits for the others inside a pass before the job is declared "
                  "broken (a rank died or stalled)")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
}

void SamplingOptions::add_to(CLI::App* cmd, int64_t default_max_tokens) {
  max_tokens = default_max_tokens;
  cmd->add_option("-n,--max-tokens", max_tokens, "most tokens to generate")->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  cmd->add_option("--temperature", temperature, "0 = greedy (default: generation_config.json, else 0.6)")
      ->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--top-k", top_k, "keep the k most likely tokens (0 = off)")->check(CLI::Range(0, 1 << 30));
  cmd->add_option("--top-p", top_p, "nucleus sampling mass (1 = off)")->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--min-p", min_p, "drop tokens below min-p times the best one's probability")->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--repetition-penalty", repetition_penalty, "> 1 discourages tokens already seen")
      ->check(CLI::Range(0.01f, 100.0f));
  cmd->add_option("--frequency-penalty", frequency_penalty, "OpenAI frequency penalty")->check(CLI::Range(-2.0f, 2.0f));
  cmd->add_option("--presence-penalty", presence_penalty, "OpenAI presence penalty")->check(CLI::Range(-2.0f, 2.0f));
  cmd->add_option("--seed", seed, "random seed (same seed, same output)");
  cmd->add_option("--stop", stop, "stop string (repeatable)");
  cmd->add_option("--beams", beams, "beam search with N beams instead of sampling")->check(CLI::Range(1, 64));
  cmd->add_option("--length-penalty", length_penalty, "beam score = logprob / length^penalty")
      ->check(CLI::Range(-10.0f, 10.0f));
}

SamplingParams SamplingOptions::params(const std::string& model_dir) const {
  SamplingParams p;
  p.temperature = 0.6f;
  p.top_p = 0.95f;
  // the model's recommended defaults, when it ships them
  if (auto text = read_regular_file((std::filesystem::path(model_dir) / "generation_config.json").string())) {
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_object()) {
      if (j.contains("temperature") && j["temperature"].is_number()) p.temperature = j["temperature"].get<float>();
      if (j.contains("top_p") && j["top_p"].is_number()) p.top_p = j["top_p"].get<float>();
      if (j.contains("top_k") && j["top_k"].is_number_integer()) p.top_k = j["top_k"].get<int32_t>();
      if (j.value("do_sample", true) == false) p.temperature = 0.0f;
    }
  }
  if (temperature) p.temperature = *temperature;
  if (top_p) p.top_p = *top_p;
  if (top_k) p.top_k = *top_k;
  if (min_p) p.min_p = *min_p;
  if (repetition_penalty) p.repetition_penalty = *repetition_penalty;
  if (frequency_penalty) p.frequency_penalty = *frequency_penalty;
  if (presence_penalty) p.presence_penalty = *presence_penalty;
  p.seed = seed;
  return p;
}

namespace {
void draw_bar(std::size_t done, std::size_t total) {
  constexpr int kWidth = 30;
  const int filled = total ? static_cast<int>(kWidth * done / total) : kWidth;
  std::fprintf(stderr, "\rloading [%s%s] %zu/%zu files", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, ' ').c_str(), done, total);
  if (done == total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}
}  // namespace

namespace {

// Rank 0 of a split job, told by mpirun to stop (it does so when another
// rank ends): say why before going.
void on_job_signal(int sig) {
  static const char msg[] =
      "dsv3: error: mpirun is stopping the job: another rank ended (see mpirun's message), or the job was "
      "cancelled\n";
  (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
  ::_exit(128 + sig);
}

// Under mpirun with several ranks: every rank loads its shard and checks it
// agrees with the others; rank 0 returns the model the engine drives, the
// other ranks follow its passes here and end the process when it finishes.
Result<Loaded> load_split(const ModelOptions& o, dist::Communicator& comm) {
  if (o.device != "cpu")
    return make_error("--device {} under mpirun: a split job runs on CPU ranks only for now", o.device);
  DSV3_ASSIGN_OR_RETURN(const Layout layout, parse_layout(o.parallel));
  comm.set_timeout(o.rank_timeout);
  const Shard shard{comm.rank(), comm.size(), layout};
  Loaded l;
  Model::Progress progress;
  if (comm.rank() == 0 && ::isatty(STDERR_FILENO)) progress = draw_bar;
  // everything that can fail happens before the ranks compare notes: after
  // it, a rank that stops leaves the others waiting for its passes
  Status loaded;
  uint64_t digest = 0;
  l.pool = std::make_unique<ThreadPool>(o.threads);
  if (auto m = Model::load(o.model, progress, shard); m.ok()) {
    l.model = std::move(m).value();
    digest = model_digest(*l.model, fmt::format("dsv3 {} {} {} {} {}", kVersion, o.parallel, o.precision,
                                                o.head_dtype, ops::cpu::kernels().name));
    if (o.head_dtype != "stored" && l.model->weights.head_here)
      loaded = restore_head(*l.model, o.head_dtype == "q8_0" ? DType::Q8_0 : DType::Q6_K, l.pool.get());
  } else {
    loaded = m.error();
  }
  if (Status agree = check_ranks_agree(comm, loaded, digest); !agree.ok()) {
    if (comm.rank() != 0) dist::World::exit(1);  // rank 0 says why
    return agree.error();
  }
  auto local = std::make_unique<Transformer>(*l.model, l.pool.get(), &comm);
  local->set_precision(o.precision == "exact" ? ops::Precision::kExact : ops::Precision::kBf16);
  if (comm.rank() != 0) {
    if (Status s = follow_leader(*local, comm); !s.ok()) {
      std::fprintf(stderr, "dsv3: error: rank %d of %d: %s\n", comm.rank(), comm.size(), s.error().message.c_str());
      comm.abort(1);
    }
    local.reset();
    l = {};
    dist::World::exit(0);
  }
  std::signal(SIGTERM, on_job_signal);
  std::signal(SIGINT, on_job_signal);
  l.transformer = std::make_unique<LeaderForward>(std::move(local), comm);
  return l;
}

}  // namespace

Result<Loaded> load_model(const ModelOptions& o) {
  if (const unsigned cores = std::thread::hardware_concurrency(); cores > 0 && o.threads > static_cast<int>(cores))
    std::fprintf(stderr, "dsv3: warning: --threads %d is more than this machine's %u cores: expect it to be slower\n",
                 o.threads, cores);
  if (dist::Communicator* world = dist::World::current(); world != nullptr && world->size() > 1)
    return load_split(o, *world);
  Loaded l;
  Model::Progress progress;
  if (::isatty(STDERR_FILENO)) progress = draw_bar;
  DSV3_ASSIGN_OR_RETURN(l.model, Model::load(o.model, progress));
  l.pool = std::make_unique<ThreadPool>(o.threads);
  if (o.head_dtype != "stored")
    DSV3_RETURN_IF_ERROR(restore_head(*l.model, o.head_dtype == "q8_0" ? DType::Q8_0 : DType::Q6_K, l.pool.get()));
  if (o.device != "cpu") {
    DSV3_ASSIGN_OR_RETURN(l.transformer, cuda::make_forward(*l.model, cuda_index(o.device).value_or(0)));
    return l;
  }
  auto cpu = std::make_unique<Transformer>(*l.model, l.pool.get());
  cpu->set_precision(o.precision == "exact" ? ops::Precision::kExact : ops::Precision::kBf16);
  l.transformer = std::move(cpu);
  return l;
}

Status SamplingOptions::check() const {
  if (!beams) return {};
  std::string sampling;
  if (temperature && *temperature > 0.0f) sampling = "--temperature";
  else if (top_p) sampling = "--top-p";
  else if (top_k) sampling = "--top-k";
  else if (min_p) sampling = "--min-p";
  else if (seed) sampling = "--seed";
  if (sampling.empty()) return {};
  return make_error("--beams searches deterministically and takes no sampling flags: drop {} or --beams", sampling);
}

Result<std::vector<Hypothesis>> run_beams(Loaded& l, const std::vector<int32_t>& prompt, const SamplingOptions& s,
                                          const text::Tokenizer* tokenizer) {
  BeamSearchParams bp;
  bp.beams = s.beams.value_or(1);
  bp.max_tokens = s.max_tokens;
  bp.length_penalty = s.length_penalty;
  bp.stop = s.stop;
  bp.tokenizer = tokenizer;
  for (int64_t id : l.model->eos_token_ids) bp.stop_tokens.push_back(static_cast<int32_t>(id));
  return beam_search(*l.transformer, prompt, bp);
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

}  // namespace dsv3::cli
