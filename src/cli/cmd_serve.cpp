// `serve`: the OpenAI-compatible HTTP server (src/server) over the engine's
// continuous-batching Scheduler. Runs until SIGTERM or SIGINT, then stops
// accepting, lets running requests finish within --shutdown-timeout and exits 0.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "base/log.h"
#include "base/mem_info.h"
#include "dist/communicator.h"
#include "engine/auto_context.h"
#include "engine/model_text.h"
#include "engine/scheduler.h"
#include "ops/cpu/kernels.h"
#include "server/auth.h"
#include "server/auth_throttle.h"
#include "server/http_server.h"
#include "server/json_depth.h"
#include "server/metrics.h"
#include "server/openai_api.h"
#include "server/rate_limit.h"
#include "server/routes.h"
#include "server/stream_limits.h"
#include "base/read_file.h"
#include "server/served_text.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace dsv3::cli {

namespace {

struct ServeOptions {
  ModelOptions model;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> api_keys;
  std::string api_key_file;
  double rpm = 0, tpm = 0;
  int64_t max_sequences = 8, max_queue = 64, ctx = 0, prefill_chunk = 256;  // ctx 0: auto (auto_context.h)
  std::string model_name;
  bool strict_model_name = false;
  std::string log_level = "info";
  std::string chat_template_file, tool_parser = "auto", reasoning = "auto", template_kwargs;
  uint64_t max_body_bytes = 4 << 20;
  int max_json_depth = server::kDefaultMaxJsonDepth;
  uint32_t max_header_bytes = server::HttpOptions{}.max_header_bytes;
  uint32_t max_header_fields = server::HttpOptions{}.max_header_fields;
  uint32_t max_trailer_bytes = server::HttpOptions{}.max_trailer_bytes;
  double shutdown_timeout = 10;
  int http_threads = 2;
  std::vector<std::string> allowed_origins;
  std::size_t max_connections = server::HttpOptions{}.max_connections;
  std::size_t max_connections_per_client = server::HttpOptions{}.max_connections_per_client;
  double idle_timeout = 30, request_timeout = 30;
  uint32_t auth_failures_per_minute = 20;
  int64_t max_streams_per_key = 0;
  uint64_t ws_max_message_bytes = 1 << 20;
  uint32_t ws_max_messages_per_minute = 600;
};

std::string model_basename(const std::string& dir) {
  std::filesystem::path p(dir);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "models/tiny/" -> "tiny"
  if (p.extension() != ".gguf") return p.filename().string();
  std::string name = p.stem().string();  // "v3-Q4_K_M-00001-of-00009.gguf" -> "v3-Q4_K_M"
  constexpr std::size_t kSplit = 15;     // "-00001-of-00009"
  if (name.size() > kSplit && name.compare(name.size() - kSplit + 6, 4, "-of-") == 0) name.resize(name.size() - kSplit);
  return name;
}

// --ctx as given, or (0) the longest the model's positions and the free
// memory allow for every sequence's cache, capped.
int64_t serve_context(const ServeOptions& o, const ModelConfig& cfg) {
  if (o.ctx > 0) return o.ctx;
  const int64_t per_token = cfg.num_hidden_layers * cfg.cache_width() * (o.model.cache() == DType::F16 ? 2 : 4);
  auto free = mem_available_bytes();
  if (!free) log::warn(fmt::format("{}; the automatic --ctx ignores memory", free.error().message));
  return auto_context(cfg.max_position_embeddings, free ? *free : -1, o.max_sequences, per_token);
}

int serve(const ServeOptions& o) {
  log::set_level(*log::parse_level(o.log_level));  // checked by the flag
  auto keys = server::ApiKeys::make(o.api_keys, o.api_key_file);
  if (!keys) return fail(2, keys.error());
  auto loaded = load_model(o.model);
  if (!loaded) return fail(2, loaded.error());
  auto tokenizer = load_tokenizer(*loaded->model);
  if (!tokenizer) return fail(2, tokenizer.error());
  std::unique_ptr<text::ChatTemplate> chat;
  if (!o.chat_template_file.empty()) {
    auto source = read_file(o.chat_template_file);
    if (!source) return fail(2, fmt::format("--chat-template: {}", source.error().message));
    auto base = load_chat_template(*loaded->model);  // for its special tokens, if it has them
    auto c = text::ChatTemplate::from_source(*source, base ? base->bos_token() : "", base ? base->eos_token() : "");
    if (!c) return fail(2, fmt::format("--chat-template {}: {}", o.chat_template_file, c.error().message));
    chat = std::make_unique<text::ChatTemplate>(std::move(c).value());
  } else if (auto c = load_chat_template(*loaded->model)) {
    chat = std::make_unique<text::ChatTemplate>(std::move(c).value());
  } else {
    std::fprintf(stderr, "dsv3: warning: %s; /v1/chat/completions is off\n", c.error().message.c_str());
  }
  const ModelConfig& cfg = loaded->model->config;
  if (cfg.max_position_embeddings > 0 && o.ctx > cfg.max_position_embeddings)
    return fail(2, fmt::format("--ctx {} is past the model's {} positions", o.ctx, cfg.max_position_embeddings));
  const int64_t ctx = serve_context(o, cfg);
  const text::Tokenizer& tok = **tokenizer;

  server::ModelInfo info;
  info.id = o.model_name.empty() ? model_basename(o.model.model) : o.model_name;
  info.vocab_size = cfg.vocab_size;
  info.strict_model_name = o.strict_model_name;
  info.context = ctx;
  info.bos_id = static_cast<int32_t>(cfg.bos_token_id);
  for (int64_t id : loaded->model->eos_token_ids) info.eos_ids.push_back(static_cast<int32_t>(id));
  info.defaults = SamplingOptions{}.params(o.model.model);  // generation_config.json, as the CLI uses
  server::attach_text(info, tok, chat.get());
  if (o.tool_parser == "deepseek-v3") info.tool_format = text::ToolCallFormat::kDeepSeekV3;
  if (o.tool_parser == "deepseek-v3.1") info.tool_format = text::ToolCallFormat::kDeepSeekV31;
  if (o.tool_parser == "none") info.tool_format = text::ToolCallFormat::kNone;
  info.reasoning = o.reasoning == "on"    ? server::ModelInfo::Reasoning::kOn
                   : o.reasoning == "off" ? server::ModelInfo::Reasoning::kOff
                                          : server::ModelInfo::Reasoning::kAuto;
  if (!o.template_kwargs.empty()) {
    info.default_template_kwargs = nlohmann::json::parse(o.template_kwargs, nullptr, false);
    if (!info.default_template_kwargs.is_object())
      return fail(2, fmt::format("--chat-template-kwargs must be a JSON object, got '{}'", o.template_kwargs));
  }

  SchedulerOptions so;
  so.max_sequences = o.max_sequences;
  so.max_queue = o.max_queue;
  so.context = ctx;
  so.prefill_chunk = o.prefill_chunk;
  so.cache_dtype = o.model.cache();
  so.pool = loaded->pool.get();

  server::RateLimiter limiter({o.rpm, o.tpm});
  server::Metrics metrics;
  server::net::io_context ioc;
  // declared after ioc so it is destroyed first: the sinks it still holds own sessions whose sockets need ioc
  auto scheduler = std::make_unique<Scheduler>(*loaded->transformer, &tok, so);
  server::AllowedOrigins origins(o.allowed_origins);
  server::AuthThrottle auth_throttle(o.auth_failures_per_minute);
  server::StreamLimits streams(o.max_streams_per_key);
  server::Routes routes({.scheduler = *scheduler,
                         .model = info,
                         .keys = *keys,
                         .limiter = limiter,
                         .metrics = metrics,
                         .max_body_bytes = o.max_body_bytes,
                         .ws_max_message_bytes = o.ws_max_message_bytes,
                         .ws_max_messages_per_minute = o.ws_max_messages_per_minute,
                         .max_json_depth = o.max_json_depth,
                         .origins = origins,
                         .auth_throttle = &auth_throttle,
                         .streams = &streams});
  server::HttpOptions ho;
  ho.origins = origins;
  ho.max_connections = o.max_connections;
  ho.max_connections_per_client = o.max_connections_per_client;
  const auto ms = [](double s) { return std::chrono::milliseconds(static_cast<int64_t>(s * 1000)); };
  ho.idle_timeout = ms(o.idle_timeout);
  ho.request_timeout = ms(o.request_timeout);
  ho.max_body_bytes = o.max_body_bytes;
  ho.max_header_bytes = o.max_header_bytes;
  ho.max_header_fields = o.max_header_fields;
  ho.max_trailer_bytes = o.max_trailer_bytes;
  server::HttpServer http(ioc, routes, ho);
  auto port = http.listen(o.host, static_cast<uint16_t>(o.port));
  if (!port) return fail(2, port.error());
  // the handlers are in place before the address is announced: a signal sent
  // as soon as a client can connect already finds them
  std::thread drainer;
  // Under mpirun the other ranks end at the same signal: there is nothing to
  // finish with, so rank 0 keeps the split job's handler (a message, exit).
  const bool split = dist::World::current() != nullptr && dist::World::current()->size() > 1;
  server::net::signal_set signals(ioc);
  if (!split) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
  }
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    std::fprintf(stderr, "dsv3: %s: finishing running requests (up to %.0f s)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT",
                 o.shutdown_timeout);
    routes.begin_shutdown();
    http.stop_accepting();
    // off the io threads: they keep delivering the streams that are finishing
    drainer = std::thread([&] {
      scheduler->shutdown(std::chrono::milliseconds(static_cast<int64_t>(o.shutdown_timeout * 1000)));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the last events' writes
      ioc.stop();
    });
    signals.async_wait([&](const boost::system::error_code& e2, int) {
      if (e2) return;
      // a second signal: stop now. The drainer's wait ends, the engine cancels
      // what is left, so every stream still gets its last event and [DONE]
      std::fprintf(stderr, "dsv3: second signal: cancelling running requests\n");
      scheduler->hurry();
    });
  });

  // what ran where, for a bug report (the server layer knows nothing of ops)
  log::info(fmt::format("backend {}, CPU kernels {}, {} threads, {} weights mapped ({} bytes), context {}{}, cache {}",
                        o.model.device, ops::cpu::kernels().name, loaded->pool->size(),
                        human_bytes(static_cast<double>(loaded->model->checkpoint.total_bytes())),
                        loaded->model->checkpoint.total_bytes(), ctx, o.ctx > 0 ? "" : " (auto)", o.model.cache_dtype));
  const bool v6 = o.host.find(':') != std::string::npos;
  std::fprintf(stderr, "dsv3: serving '%s' (context %lld, %lld sequences) listening on http://%s%s%s:%u\n", info.id.c_str(),
               static_cast<long long>(ctx), static_cast<long long>(o.max_sequences), v6 ? "[" : "", o.host.c_str(),
               v6 ? "]" : "", static_cast<unsigned>(*port));
  std::fflush(stderr);

  std::vector<std::thread> io;
  for (int i = 1; i < o.http_threads; ++i) io.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : io) t.join();
  if (drainer.joinable()) drainer.join();
  scheduler.reset();
  std::fprintf(stderr, "dsv3: stopped\n");
  return 0;
}

}  // namespace

void add_serve(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "OpenAI-compatible HTTP server (chat, completions, streaming, WebSocket, "
                                              "metrics, a chat page at /)");
  o->model.add_to(cmd);
  cmd->add_option("--host", o->host, "address to listen on")->capture_default_str();
  cmd->add_option("--port", o->port, "port (0: any free port; the bound one is printed)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--api-key", o->api_keys, "require 'Authorization: Bearer KEY' or 'x-api-key: KEY' (repeatable)");
  cmd->add_option("--api-key-file", o->api_key_file, "file of API keys, one per line (# comments)");
  cmd->add_option("--rate-limit-rpm", o->rpm, "requests per minute per key (or per address without keys); 0: off")
      ->check(CLI::Range(0.0, 1e9));
  cmd->add_option("--rate-limit-tpm", o->tpm, "prompt + completion tokens per minute per key; 0: off")
      ->check(CLI::Range(0.0, 1e12));
  cmd->add_option("--max-sequences", o->max_sequences, "sequences decoded together")
      ->check(CLI::Range(int64_t{1}, int64_t{1024}))
      ->capture_default_str();
  cmd->add_option("--max-queue", o->max_queue, "requests waiting beyond those; more get 503")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("-c,--ctx", o->ctx,
                  "context per sequence (prompt + completion tokens); 0: auto, the smallest of the model's positions, "
                  "what free memory holds for --max-sequences caches, and 32768")
      ->check(CLI::Validator(
          [](std::string& v) {
            int64_t n = 0;
            const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc() || end != v.data() + v.size()) return std::string();  // the conversion says why
            return n == 0 || (n >= kMinContext && n <= (int64_t{1} << 22)) ? std::string()
                                                                             : "--ctx must be 0 (auto) or in [16, 4194304]";
          },
          "0|[16, 4194304]"))
      ->capture_default_str();
  cmd->add_option("--prefill-chunk", o->prefill_chunk, "prompt tokens per engine step, over all sequences")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--model-name", o->model_name,
                  "the model id responses carry and /v1/models lists (default: the model directory's name)");
  cmd->add_flag("--strict-model-name", o->strict_model_name,
                "refuse requests naming another model with 404 (default: any name is served by this model)");
  cmd->add_option("--chat-template", o->chat_template_file,
                  "a Jinja chat template file to use instead of the model's (tokenizer_config.json)");
  cmd->add_option("--tool-parser", o->tool_parser,
                  "how the model writes tool calls: auto (from the chat template), deepseek-v3 (V3, R1), deepseek-v3.1, none")
      ->check(CLI::IsMember({"auto", "deepseek-v3", "deepseek-v3.1", "none"}))
      ->capture_default_str();
  cmd->add_option("--reasoning", o->reasoning,
                  "split <think>...</think> off as reasoning_content: auto (when the template or prompt uses <think>), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  cmd->add_option("--chat-template-kwargs", o->template_kwargs,
                  "template variables every chat request gets unless it sets its own, as JSON: '{\"thinking\": true}'");
  cmd->add_option("--log-level", o->log_level,
                  "error, warn, info (a line per finished request, never its text) or debug (request bodies too)")
      ->check(CLI::IsMember({"error", "warn", "info", "debug"}))
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", o->max_body_bytes, "largest request body (413 beyond)")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 32))
      ->capture_default_str();
  cmd->add_option("--max-json-depth", o->max_json_depth,
                  "deepest nesting of arrays and objects in a request body or WebSocket message (400 beyond)")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_option("--max-header-bytes", o->max_header_bytes, "largest request line and header fields together (431 beyond)")
      ->check(CLI::Range(uint32_t{1024}, uint32_t{1} << 24))
      ->capture_default_str();
  cmd->add_option("--max-header-fields", o->max_header_fields, "most header fields in a request (431 beyond)")
      ->check(CLI::Range(uint32_t{8}, uint32_t{100000}))
      ->capture_default_str();
  cmd->add_option("--max-trailer-bytes", o->max_trailer_bytes,
                  "largest trailer section (or chunk-size line) of a chunked request body (431 beyond)")
      ->check(CLI::Range(uint32_t{256}, uint32_t{1} << 24))
      ->capture_default_str();
  cmd->add_option("--shutdown-timeout", o->shutdown_timeout, "seconds running requests get to finish on SIGTERM")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--http-threads", o->http_threads, "threads serving connections")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--allowed-origins", o->allowed_origins,
                  "browser origins (scheme://host[:port], comma-separated or repeated; * for any) that get CORS "
                  "headers and may open the WebSocket; default none: same-origin only")
      ->delimiter(',');
  cmd->add_option("--max-connections", o->max_connections, "open connections in all (503 and closed beyond); 0: unlimited")
      ->capture_default_str();
  cmd->add_option("--max-connections-per-client", o->max_connections_per_client,
                  "open connections per client address (503 and closed beyond); 0: unlimited")
      ->capture_default_str();
  cmd->add_option("--idle-timeout", o->idle_timeout, "seconds a connection may wait idle for its next request")
      ->check(CLI::Range(0.05, 86400.0))
      ->capture_default_str();
  cmd->add_option("--request-timeout", o->request_timeout,
                  "seconds to receive a whole request from its first byte (header and body; closed beyond)")
      ->check(CLI::Range(0.05, 86400.0))
      ->capture_default_str();
  cmd->add_option("--auth-failures-per-minute", o->auth_failures_per_minute,
                  "wrong or missing API keys an address may send per minute before it gets 429; 0: unlimited")
      ->capture_default_str();
  cmd->add_option("--max-streams-per-key", o->max_streams_per_key,
                  "generations running at once per key (per address without keys), 429 beyond; 0: unlimited")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  cmd->add_option("--ws-max-message-bytes", o->ws_max_message_bytes,
                  "largest WebSocket message (the connection is closed with 1009 beyond)")
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 32))
      ->capture_default_str();
  cmd->add_option("--ws-max-messages-per-minute", o->ws_max_messages_per_minute,
                  "messages a WebSocket connection may send per minute (closed with 1008 beyond); 0: unlimited")
      ->capture_default_str();
  cmd->callback([o, &exit_code] { exit_code = serve(*o); });
}

}  // namespace dsv3::cli
