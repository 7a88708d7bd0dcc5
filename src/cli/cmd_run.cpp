// `run` answers one prompt, `chat` holds a conversation; both stream the
// answer as it is generated and report speed on stderr.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/line_input.h"
#include "ops/cpu/kernels.h"
#include "engine/model_text.h"
#include "engine/completion.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace dsv3::cli {

namespace {

std::atomic<bool> g_interrupt{false};
extern "C" void on_sigint(int) { g_interrupt.store(true); }

// Everything a text conversation needs besides the weights.
struct TextModel {
  Loaded loaded;
  std::unique_ptr<text::Tokenizer> tokenizer;
  std::unique_ptr<text::ChatTemplate> chat;  // null when the model ships none
};

Result<TextModel> load_text_model(const ModelOptions& mo, bool need_template) {
  TextModel t;
  DSV3_ASSIGN_OR_RETURN(t.loaded, load_model(mo));
  DSV3_ASSIGN_OR_RETURN(t.tokenizer, load_tokenizer(*t.loaded.model));
  if (need_template) {
    DSV3_ASSIGN_OR_RETURN(auto c, load_chat_template(*t.loaded.model));
    t.chat = std::make_unique<text::ChatTemplate>(std::move(c));
  }
  return t;
}

// The prompt ids of a conversation: the template already writes the BOS text.
Result<std::vector<int32_t>> chat_ids(const TextModel& t, const nlohmann::ordered_json& messages) {
  DSV3_ASSIGN_OR_RETURN(std::string text, t.chat->render(messages, true));
  return t.tokenizer->encode(text);
}

Job make_job(const TextModel& t, const SamplingOptions& so, const std::string& model_dir) {
  Job job;
  job.sampling = so.params(model_dir);
  job.max_tokens = so.max_tokens;
  job.stop = so.stop;
  for (int64_t id : t.loaded.model->eos_token_ids) job.stop_tokens.push_back(static_cast<int32_t>(id));
  return job;
}

// One sequence at a time, its cache carried from turn to turn.
std::unique_ptr<Scheduler> make_scheduler(const TextModel& t, const ModelOptions& mo) {
  return std::make_unique<Scheduler>(*t.loaded.transformer, t.tokenizer.get(), one_sequence_options(mo.cache()));
}

void print_speed(const Completion& r) {
  const JobUsage& u = r.usage;
  const int64_t fed = u.prompt_tokens - u.cached_prompt_tokens;
  const double prefill = r.prefill_seconds(), decode = r.decode_seconds();
  std::fprintf(stderr, "\n[prompt: %lld tokens (%lld cached), %.1f tokens/s | generation: %lld tokens, %.1f tokens/s | %s]\n",
               static_cast<long long>(u.prompt_tokens), static_cast<long long>(u.cached_prompt_tokens),
               prefill > 0 ? fed / prefill : 0.0, static_cast<long long>(u.completion_tokens),
               decode > 0 ? u.completion_tokens / decode : 0.0, std::string(finish_reason_name(r.finish)).c_str());
}

// Streams one answer to stdout; Ctrl-C stops it.
Result<Completion> answer(Scheduler& scheduler, Job job) {
  g_interrupt.store(false);
  struct sigaction sa {}, old {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  auto r = complete(scheduler, std::move(job),
                    [](std::string_view piece) {
                      std::fwrite(piece.data(), 1, piece.size(), stdout);
                      std::fflush(stdout);
                    },
                    &g_interrupt);
  sigaction(SIGINT, &old, nullptr);
  return r;
}

}  // namespace

void add_run(CLI::App& app, int& exit_code) {
  struct Opts {
    ModelOptions model;
    SamplingOptions sampling;
    std::string prompt, system;
    bool raw = false, quiet = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("run", "answer one prompt, streaming the text to stdout");
  o->model.add_to(cmd);
  o->sampling.add_to(cmd, 512);
  cmd->add_option("-p,--prompt", o->prompt, "the user's message (- reads it from stdin)")->required();
  cmd->add_option("--system", o->system, "a system message");
  cmd->add_flag("--raw", o->raw, "feed the prompt as is (BOS + text), no chat template");
  cmd->add_flag("--quiet", o->quiet, "no speed report on stderr");
  cmd->callback([o, &exit_code] {
    if (Status st = o->sampling.check(); !st) return void(exit_code = fail(2, st.error()));
    if (o->prompt == "-") {  // the prompt from stdin, as a file argument "-" means in most tools
      o->prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
      if (!o->prompt.empty() && o->prompt.back() == '\n') o->prompt.pop_back();
    }
    auto t = load_text_model(o->model, !o->raw);
    if (!t) return void(exit_code = fail(2, t.error()));
    std::vector<int32_t> ids;
    if (o->raw) {
      if (t->loaded.model->config.bos_token_id >= 0) ids.push_back(static_cast<int32_t>(t->loaded.model->config.bos_token_id));
      const auto body = t->tokenizer->encode(o->prompt);
      ids.insert(ids.end(), body.begin(), body.end());
    } else {
      nlohmann::ordered_json messages = nlohmann::ordered_json::array();
      if (!o->system.empty()) messages.push_back({{"role", "system"}, {"content", o->system}});
      messages.push_back({{"role", "user"}, {"content", o->prompt}});
      auto r = chat_ids(*t, messages);
      if (!r) return void(exit_code = fail(2, r.error()));
      ids = std::move(r).value();
    }
    if (o->sampling.beams) {
      auto hyps = run_beams(t->loaded, ids, o->sampling, t->tokenizer.get());
      if (!hyps) return void(exit_code = fail(2, hyps.error()));
      const std::string& text = hyps->front().text;  // cut before a stop string
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::printf("\n");
      return;
    }
    Job job = make_job(*t, o->sampling, o->model.model);
    job.prompt = std::move(ids);
    auto r = answer(*make_scheduler(*t, o->model), std::move(job));
    if (!r) return void(exit_code = fail(2, r.error()));
    std::printf("\n");
    if (!o->quiet) print_speed(*r);
  });
}

namespace {

const char kChatHelp[] =
    "commands:\n"
    "  /help            this list\n"
    "  /system TEXT     set the system message (starts the conversation afresh)\n"
    "  /reset           clear the conversation\n"
    "  /save FILE       write the conversation as JSON (OpenAI messages)\n"
    "  /load FILE       continue a conversation saved with /save\n"
    "  /exit, /quit     leave (or Ctrl-D)\n"
    "a line ending in \\ continues on the next; \"\"\" on a line of its own starts and ends a block.\n"
    "Ctrl-C stops an answer. To send a line that starts with /, start it with a space.\n";

// A conversation file: an array of {role, content} with string fields.
Result<nlohmann::ordered_json> read_conversation(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error("{}: cannot open it", path);
  auto j = nlohmann::ordered_json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_array()) return make_error("{}: not a JSON array of messages", path);
  for (const auto& m : j) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      return make_error("{}: every message needs string \"role\" and \"content\"", path);
    const std::string role = m["role"];
    if (role != "system" && role != "user" && role != "assistant")
      return make_error("{}: unknown role \"{}\" (system, user or assistant)", path, role);
  }
  return j;
}

// One message as typed: continued lines (ending in \) and """ blocks joined.
LineInput::Got read_message(LineInput& in, std::string& text) {
  std::string line;
  LineInput::Got got = in.read("> ", line);
  if (got != LineInput::Got::kLine) return got;
  if (line == "\"\"\"") {
    text.clear();
    for (;;) {
      got = in.read("... ", line);
      if (got != LineInput::Got::kLine) return got;
      if (line == "\"\"\"") return LineInput::Got::kLine;
      text += (text.empty() ? "" : "\n") + line;
    }
  }
  text = line;
  while (!text.empty() && text.back() == '\\') {
    text.pop_back();
    got = in.read("... ", line);
    if (got != LineInput::Got::kLine) return got;
    text += "\n" + line;
  }
  return LineInput::Got::kLine;
}

}  // namespace

void add_chat(CLI::App& app, int& exit_code) {
  struct Opts {
    ModelOptions model;
    SamplingOptions sampling;
    std::string system;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("chat", "interactive conversation (/help lists the commands; /exit or Ctrl-D "
                                             "quits, Ctrl-C stops an answer)");
  o->model.add_to(cmd);
  o->sampling.add_to(cmd, 1024);
  cmd->add_option("--system", o->system, "a system message");
  cmd->callback([o, &exit_code] {
    if (o->sampling.beams) return void(exit_code = fail(2, "--beams: chat samples its answers (use run --beams)"));
    auto t = load_text_model(o->model, true);
    if (!t) return void(exit_code = fail(2, t.error()));
    const Job base = make_job(*t, o->sampling, o->model.model);
    if (Status st = base.sampling.validate(t->loaded.model->config.vocab_size); !st)
      return void(exit_code = fail(2, st.error()));
    LineInput input(::isatty(STDIN_FILENO));
    std::string system = o->system;
    auto fresh = [&] {
      nlohmann::ordered_json m = nlohmann::ordered_json::array();
      if (!system.empty()) m.push_back({{"role", "system"}, {"content", system}});
      return m;
    };
    nlohmann::ordered_json messages = fresh();
    std::unique_ptr<Scheduler> scheduler = make_scheduler(*t, o->model);  // its cache carries the conversation
    const ModelConfig& c = t->loaded.model->config;
    std::fprintf(stderr, "%s", fmt::format("dsv3 chat: {} on {} ({} kernels, {} threads), context {} tokens{}\n"
                                           "/help lists the commands; /exit or Ctrl-D leaves\n",
                                           o->model.model, t->loaded.transformer->device(), ops::cpu::kernels().name,
                                           t->loaded.pool->size(), c.max_position_embeddings,
                                           input.editing() ? "; line editing on" : "").c_str());
    std::string text;
    for (;;) {
      const LineInput::Got got = read_message(input, text);
      if (got == LineInput::Got::kEnd) break;
      if (got == LineInput::Got::kInterrupted) {
        std::fprintf(stderr, "\n(Ctrl-C stops an answer; to leave, type /exit or press Ctrl-D)\n");
        continue;
      }
      if (!text.empty() && text[0] == '/') {
        const std::string cmd_name = text.substr(0, text.find(' '));
        const std::string arg = text.find(' ') == std::string::npos ? "" : text.substr(text.find(' ') + 1);
        if (cmd_name == "/exit" || cmd_name == "/quit") break;
        if (cmd_name == "/help") {
          std::fprintf(stderr, "%s", kChatHelp);
        } else if (cmd_name == "/reset" || cmd_name == "/system") {
          if (cmd_name == "/system") system = arg;
          messages = fresh();
          scheduler = make_scheduler(*t, o->model);  // and a fresh cache
          std::fprintf(stderr, cmd_name == "/reset" ? "[conversation cleared]\n" : "[system message set; conversation cleared]\n");
        } else if (cmd_name == "/save") {
          std::ofstream out(arg);
          if (arg.empty() || !(out << messages.dump(1) << "\n"))
            fail(1, fmt::format("/save: cannot write '{}'", arg));
          else
            std::fprintf(stderr, "[%zu messages saved to %s]\n", messages.size(), arg.c_str());
        } else if (cmd_name == "/load") {
          auto loaded = read_conversation(arg);
          if (!loaded) {
            fail(1, loaded.error());
          } else {
            messages = std::move(loaded).value();
            system.clear();
            scheduler = make_scheduler(*t, o->model);  // the next turn prefills the loaded conversation
            std::fprintf(stderr, "[%zu messages loaded from %s]\n", messages.size(), arg.c_str());
          }
        } else {
          std::fprintf(stderr, "unknown command %s (/help lists them)\n", cmd_name.c_str());
        }
        continue;
      }
      if (!text.empty() && text[0] == ' ' && text.find_first_not_of(' ') != std::string::npos && text[text.find_first_not_of(' ')] == '/')
        text.erase(0, 1);  // " /text" sends "/text"
      if (text.find_first_not_of(" \t") == std::string::npos) continue;
      messages.push_back({{"role", "user"}, {"content", text}});
      auto ids = chat_ids(*t, messages);
      if (!ids) {
        fail(1, ids.error());
        messages.erase(messages.size() - 1);
        continue;
      }
      Job job = base;
      job.prompt = std::move(ids).value();
      auto r = answer(*scheduler, std::move(job));
      std::printf("\n");
      if (!r) {
        fail(1, r.error());
        messages.erase(messages.size() - 1);
        continue;
      }
      if (r->finish == FinishReason::kCancelled) std::fprintf(stderr, "[stopped]\n");
      print_speed(*r);
      messages.push_back({{"role", "assistant"}, {"content", r->text}});
    }
  });
}

}  // namespace dsv3::cli
