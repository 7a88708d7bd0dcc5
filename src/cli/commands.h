// The dsv3 subcommands. Each sets a process exit code: 0 ok, 1 runtime
// failure, 2 bad input (flags, files, ids).
#pragma once

namespace CLI {
class App;
}

namespace dsv3::cli {

void add_logits(CLI::App& app, int& exit_code);
void add_generate(CLI::App& app, int& exit_code);
void add_inspect(CLI::App& app, int& exit_code);
void add_tokenize(CLI::App& app, int& exit_code);
void add_detokenize(CLI::App& app, int& exit_code);
void add_chat_template(CLI::App& app, int& exit_code);
void add_run(CLI::App& app, int& exit_code);
void add_chat(CLI::App& app, int& exit_code);
void add_synth(CLI::App& app, int& exit_code);
void add_bench(CLI::App& app, int& exit_code);
void add_serve(CLI::App& app, int& exit_code);
void add_quantize(CLI::App& app, int& exit_code);
void add_pull(CLI::App& app, int& exit_code);

}  // namespace dsv3::cli
