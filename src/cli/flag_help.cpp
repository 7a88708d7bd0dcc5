#include "cli/flag_help.h"

#include "base/edit_distance.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <vector>

namespace dsv3::cli {

namespace {

std::vector<CLI::App*> all_subcommands(CLI::App& app) {
  return app.get_subcommands([](CLI::App*) { return true; });
}

// The closest of `names` to `word`, if it is close enough to be a typo.
std::string closest(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  int best_d = 1 << 30;
  for (const std::string& n : names) {
    const int d = edit_distance(word, n);
    if (d < best_d) {
      best_d = d;
      best = n;
    }
  }
  const int allowed = std::max<int>(2, static_cast<int>(word.size()) / 3);
  return best_d > 0 && best_d <= allowed ? best : std::string();
}

}  // namespace

void take_last_of_repeats(CLI::App& app) {
  for (CLI::App* sub : all_subcommands(app)) {
    for (CLI::Option* opt : sub->get_options()) {
      // flags and single values; lists (--stop, --api-key, --keep) keep every value
      if (opt->get_items_expected_max() <= 1 && opt->get_type_size_max() <= 1) {
        opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
      }
    }
  }
}

std::string did_you_mean(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> subcommands;
  for (CLI::App* sub : all_subcommands(app)) subcommands.push_back(sub->get_name());
  CLI::App* chosen = nullptr;
  int at = 1;
  for (; at < argc; ++at) {
    const std::string word = argv[at];
    if (word.rfind("-", 0) == 0) continue;
    for (CLI::App* sub : all_subcommands(app))
      if (sub->get_name() == word) chosen = sub;
    if (chosen == nullptr) {
      const std::string c = closest(word, subcommands);
      return c.empty() ? std::string() : " (did you mean '" + c + "'?)";
    }
    break;
  }
  if (chosen == nullptr) return {};
  std::vector<std::string> longs;
  std::vector<std::string> known;
  for (CLI::Option* opt : chosen->get_options()) {
    for (const std::string& l : opt->get_lnames()) {
      longs.push_back("--" + l);
      known.push_back("--" + l);
    }
    for (const std::string& s : opt->get_snames()) known.push_back("-" + s);
  }
  for (int i = at + 1; i < argc; ++i) {
    std::string word = argv[i];
    if (word.rfind("--", 0) != 0) continue;
    word = word.substr(0, word.find('='));
    if (std::find(known.begin(), known.end(), word) != known.end()) continue;
    const std::string c = closest(word, longs);
    if (!c.empty()) return " (did you mean " + c + "?)";
  }
  return {};
}

}  // namespace dsv3::cli
