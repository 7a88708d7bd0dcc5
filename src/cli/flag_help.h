// Friendlier flags: repeated flags take their last value (as in most CLIs),
// and a mistyped flag or subcommand gets a "did you mean".
#pragma once
#include <string>

namespace CLI {
class App;
}

namespace dsv3::cli {

// Once every subcommand and option exists: an option that holds one value
// takes the last of repeated ones instead of refusing them.
void take_last_of_repeats(CLI::App& app);

// For a failed parse of argv: " (did you mean --model?)" when an unknown
// flag of the chosen subcommand, or an unknown subcommand, is close to a
// real one; else empty.
std::string did_you_mean(CLI::App& app, int argc, char** argv);

}  // namespace dsv3::cli
