// Text-only subcommands: they read the tokenizer files, not the weights.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/args.h"
#include "base/read_file.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "engine/model_text.h"
#include "engine/token_ids.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace dsv3::cli {

namespace {


void write_exact(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }
}  // namespace

void add_tokenize(CLI::App& app, int& exit_code) {
  struct Opts {
    std::string model, text, file;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("tokenize", "print the token ids of a text (no BOS added)");
  cmd->add_option("-m,--model", o->model, "model directory with tokenizer.json, a GGUF file, or ORG/NAME (dsv3 pull)")->required()->transform(model_path());
  auto* t = cmd->add_option("--text", o->text, "the text");
  auto* f = cmd->add_option("--file", o->file, "read the text from a file");
  t->excludes(f);
  cmd->add_flag("--json", o->json, "print {\"ids\": [...]}");
  cmd->callback([o, t, f, &exit_code] {
    if (t->count() == 0 && f->count() == 0) return void(exit_code = fail(2, "tokenize: give --text or --file"));
    std::string input = o->text;
    if (f->count() > 0) {
      auto r = read_file(o->file);
      if (!r) return void(exit_code = fail(2, r.error()));
      input = std::move(r).value();
    }
    auto tok = load_tokenizer(o->model);
    if (!tok) return void(exit_code = fail(2, tok.error()));
    const auto ids = (*tok)->encode(input);
    if (o->json) {
      std::printf("%s\n", nlohmann::json{{"ids", ids}}.dump().c_str());
    } else {
      std::string line;
      for (std::size_t i = 0; i < ids.size(); ++i) line += (i ? "," : "") + std::to_string(ids[i]);
      std::printf("%s\n", line.c_str());
    }
  });
}

void add_detokenize(CLI::App& app, int& exit_code) {
  struct Opts {
    std::string model, ids;
    bool skip_special = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("detokenize", "print the text of token ids (exactly, no newline added)");
  cmd->add_option("-m,--model", o->model, "model directory with tokenizer.json, a GGUF file, or ORG/NAME (dsv3 pull)")->required()->transform(model_path());
  cmd->add_option("--ids", o->ids, "comma-separated token ids")->required();
  cmd->add_flag("--skip-special", o->skip_special, "leave out special tokens");
  cmd->callback([o, &exit_code] {
    auto ids = parse_ids(o->ids, "--ids");
    if (!ids) return void(exit_code = fail(2, ids.error()));
    auto tok = load_tokenizer(o->model);
    if (!tok) return void(exit_code = fail(2, tok.error()));
    if (Status st = check_token_ids(*ids, (*tok)->vocab_size()); !st)
      return void(exit_code = fail(2, "--ids: " + st.error().message));
    write_exact((*tok)->decode(*ids, o->skip_special));
  });
}

void add_chat_template(CLI::App& app, int& exit_code) {
  struct Opts {
    std::string model, messages;
    bool add_generation_prompt = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* cmd = app.add_subcommand("chat-template", "render the model's chat template (byte-exact, no newline added)");
  cmd->add_option("-m,--model", o->model, "model directory with tokenizer_config.json, a GGUF file, or ORG/NAME (dsv3 pull)")->required()->transform(model_path());
  cmd->add_option("--messages", o->messages, "JSON file: a list of {role, content}, or {messages, tools}")->required();
  cmd->add_flag("--add-generation-prompt", o->add_generation_prompt, "end with the assistant's turn opener");
  cmd->callback([o, &exit_code] {
    auto text = read_file(o->messages);
    if (!text) return void(exit_code = fail(2, text.error()));
    auto j = nlohmann::ordered_json::parse(*text, nullptr, false);
    if (j.is_discarded()) return void(exit_code = fail(2, o->messages + ": not valid JSON"));
    nlohmann::ordered_json messages = j, tools = nullptr;
    if (j.is_object()) {
      messages = j.value("messages", nlohmann::ordered_json());
      tools = j.value("tools", nlohmann::ordered_json());
    }
    if (!messages.is_array()) return void(exit_code = fail(2, o->messages + ": expected a list of messages"));
    auto tmpl = load_chat_template(o->model);
    if (!tmpl) return void(exit_code = fail(2, tmpl.error()));
    auto out = tmpl->render(messages, o->add_generation_prompt, tools);
    if (!out) return void(exit_code = fail(2, out.error()));
    write_exact(*out);
  });
}

}  // namespace dsv3::cli
