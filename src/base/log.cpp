#include "base/log.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace dsv3::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::mutex g_mu;  // one line at a time, and guards the sink
std::function<void(std::string_view)> g_sink;

}  // namespace

std::optional<Level> parse_level(std::string_view name) {
  if (name == "error") return Level::kError;
  if (name == "warn") return Level::kWarn;
  if (name == "info") return Level::kInfo;
  if (name == "debug") return Level::kDebug;
  return std::nullopt;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::kError: return "ERROR";
    case Level::kWarn: return "WARN";
    case Level::kInfo: return "INFO";
    case Level::kDebug: return "DEBUG";
  }
  return "?";
}

void set_level(Level level) { g_level.store(static_cast<int>(level)); }
Level level() { return static_cast<Level>(g_level.load()); }
bool enabled(Level l) { return static_cast<int>(l) <= g_level.load(); }

std::string format_line(Level level, std::string_view message, std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} {}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000), level_name(level), message);
}

void write(Level level, std::string_view message) {
  if (!enabled(level)) return;
  const std::string line = format_line(level, message, std::chrono::system_clock::now());
  std::lock_guard lock(g_mu);
  if (g_sink) return g_sink(line);
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void set_sink(std::function<void(std::string_view line)> sink) {
  std::lock_guard lock(g_mu);
  g_sink = std::move(sink);
}

}  // namespace dsv3::log
