// One process-wide logger: a level and whole lines on stderr, each with an
// ISO-8601 UTC timestamp. Lines from many threads never interleave.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace dsv3::log {

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// "error", "warn", "info", "debug"; nullopt for anything else.
std::optional<Level> parse_level(std::string_view name);
const char* level_name(Level level);

void set_level(Level level);
Level level();
// Whether a line at `level` is written: check before building an expensive one.
bool enabled(Level level);

// "2026-01-02T03:04:05.678Z INFO message" (no newline).
std::string format_line(Level level, std::string_view message, std::chrono::system_clock::time_point t);

// Writes the line if `level` is enabled.
void write(Level level, std::string_view message);
inline void error(std::string_view m) { write(Level::kError, m); }
inline void warn(std::string_view m) { write(Level::kWarn, m); }
inline void info(std::string_view m) { write(Level::kInfo, m); }
inline void debug(std::string_view m) { write(Level::kDebug, m); }

// Where lines go instead of stderr (tests); null: back to stderr.
void set_sink(std::function<void(std::string_view line)> sink);

}  // namespace dsv3::log
