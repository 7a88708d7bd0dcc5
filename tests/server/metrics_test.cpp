// Prometheus text exposition: names, labels, cumulative buckets, gauges.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <regex>
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

TEST(Metrics, EveryLineIsACommentOrASample) {
  Metrics m;
  m.request("/health", 200, 0.001);
  const std::string t = m.render({});
  const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [-+0-9.eEInf]+$)");
  const std::regex comment(R"(^# (HELP|TYPE) [a-z0-9_]+ .+$)");
  std::istringstream in(t);
  int samples = 0;
  for (std::string l; std::getline(in, l);) {
    EXPECT_TRUE(std::regex_match(l, sample) || std::regex_match(l, comment)) << l;
    samples += l[0] != '#';
  }
  EXPECT_GT(samples, 20);
  EXPECT_EQ(t.back(), '\n');
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
