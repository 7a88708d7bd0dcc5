// Prometheus text exposition: names, labels, cumulative buckets, gauges.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <sstream>

namespace dsv3::server {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

TEST(Metrics, CountersGaugesAndHistograms) {
  Metrics m;
  m.request("/v1/chat/completions", 200, 0.3);
  m.request("/v1/chat/completions", 200, 0.02);
  m.request("/v1/chat/completions", 400, 0.001);
  m.tokens(10, 4, 5);
  m.tokens(2, 0, 3);
  m.time_to_first_token(0.07);
  m.rate_limited("requests");
  m.connection(+1);
  SchedulerStats s;
  s.queued = 2;
  s.active = 3;
  s.cache_tokens = 50;
  s.cache_capacity_tokens = 200;
  const std::string t = m.render(s);
  EXPECT_TRUE(has_line(t, "dsv3_http_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 2")) << t;
  EXPECT_TRUE(has_line(t, "dsv3_http_requests_total{route=\"/v1/chat/completions\",status=\"400\"} 1"));
  EXPECT_TRUE(has_line(t, "dsv3_prompt_tokens_total 12"));
  EXPECT_TRUE(has_line(t, "dsv3_cached_prompt_tokens_total 4"));
  EXPECT_TRUE(has_line(t, "dsv3_completion_tokens_total 8"));
  EXPECT_TRUE(has_line(t, "dsv3_queue_depth 2"));
  EXPECT_TRUE(has_line(t, "dsv3_active_sequences 3"));
  EXPECT_TRUE(has_line(t, "dsv3_cache_usage_ratio 0.25"));
  EXPECT_TRUE(has_line(t, "dsv3_rate_limited_total{limit=\"requests\"} 1"));
  EXPECT_TRUE(has_line(t, "dsv3_open_connections 1"));
  // cumulative buckets: 0.001 and 0.02 are <= 0.025, all three <= 0.5 and +Inf
  EXPECT_TRUE(has_line(t, "dsv3_request_duration_seconds_bucket{route=\"/v1/chat/completions\",le=\"0.025\"} 2"));
  EXPECT_TRUE(has_line(t, "dsv3_request_duration_seconds_bucket{route=\"/v1/chat/completions\",le=\"0.5\"} 3"));
  EXPECT_TRUE(has_line(t, "dsv3_request_duration_seconds_bucket{route=\"/v1/chat/completions\",le=\"+Inf\"} 3"));
  EXPECT_TRUE(has_line(t, "dsv3_request_duration_seconds_count{route=\"/v1/chat/completions\"} 3"));
  EXPECT_TRUE(has_line(t, "dsv3_time_to_first_token_seconds_bucket{le=\"0.05\"} 0"));
  EXPECT_TRUE(has_line(t, "dsv3_time_to_first_token_seconds_bucket{le=\"0.1\"} 1"));
  EXPECT_TRUE(has_line(t, "dsv3_time_to_first_token_seconds_count 1"));
}

// name{label="value",...} number  (no std::regex: GCC 12 warns inside it under the sanitizers)
bool is_sample(const std::string& l) {
  const auto space = l.rfind(' ');
  if (space == std::string::npos) return false;
  const std::string value = l.substr(space + 1);
  char* end = nullptr;
  std::strtod(value.c_str(), &end);
  if (value.empty() || (*end != '\0' && value != "+Inf")) return false;
  std::string name = l.substr(0, space);
  if (const auto brace = name.find('{'); brace != std::string::npos) {
    if (name.back() != '}') return false;
    const std::string labels = name.substr(brace + 1, name.size() - brace - 2);
    name = name.substr(0, brace);
    std::size_t i = 0;
    while (i < labels.size()) {  // key="value" pairs, comma-separated
      const auto eq = labels.find("=\"", i);
      const auto close = eq == std::string::npos ? eq : labels.find('"', eq + 2);
      if (close == std::string::npos || eq == i) return false;
      i = close + 1;
      if (i < labels.size() && labels[i++] != ',') return false;
    }
  }
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') return false;
  return true;
}

TEST(Metrics, EveryLineIsACommentOrASample) {
  Metrics m;
  m.request("/health", 200, 0.001);
  const std::string t = m.render({});
  std::istringstream in(t);
  int samples = 0;
  for (std::string l; std::getline(in, l);) {
    const bool comment = l.rfind("# HELP dsv3_", 0) == 0 || l.rfind("# TYPE dsv3_", 0) == 0;
    EXPECT_TRUE(comment || is_sample(l)) << l;
    samples += !comment;
  }
  EXPECT_GT(samples, 20);
  EXPECT_EQ(t.back(), '\n');
  EXPECT_FALSE(is_sample("bad line"));
  EXPECT_FALSE(is_sample("x{a=1} 2"));
  EXPECT_TRUE(is_sample("x_y{a=\"1\",b=\"2\"} 2.5"));
}

TEST(Metrics, HistogramBoundaryIsInclusive) {
  Histogram h({1.0, 2.0});
  h.observe(1.0);
  h.observe(2.5);
  std::string out;
  h.render(out, "x");
  EXPECT_TRUE(has_line(out, "x_bucket{le=\"1\"} 1")) << out;
  EXPECT_TRUE(has_line(out, "x_bucket{le=\"2\"} 1"));
  EXPECT_TRUE(has_line(out, "x_bucket{le=\"+Inf\"} 2"));
  EXPECT_TRUE(has_line(out, "x_sum 3.5"));
}

}  // namespace
}  // namespace dsv3::server
