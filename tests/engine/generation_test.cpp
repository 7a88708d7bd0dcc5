// Generation on the bundled tiny model: stop strings (also across tokens),
// stop tokens, streaming equal to the result, prefix reuse, beam search.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "engine/beam_search.h"
#include "engine/generator.h"
#include "support/golden.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace dsv3::test {
namespace {

const text::Tokenizer& tok() { return tiny_tokenizer(); }
Transformer& tiny() { return *loaded("tiny").transformer; }

GenerationRequest greedy_request(int64_t n) {
  GenerationRequest r;
  r.prompt = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1]["ids"].get<std::vector<int32_t>>();
  r.sampling.temperature = 0.0f;
  r.max_tokens = n;
  return r;
}

std::string reference_text(int64_t n) {
  auto g = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1]["greedy"].get<std::vector<int32_t>>();
  g.resize(n);
  return tok().decode(g);
}

TEST(Generation, GreedyTextMatchesReferenceAndStreams) {
  Session s(tiny());
  std::string streamed;
  auto r = generate(s, &tok(), greedy_request(24), [&](std::string_view p) {
    streamed += p;
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->finish, FinishReason::kLength);
  EXPECT_EQ(r->tokens.size(), 24u);
  EXPECT_EQ(r->text, reference_text(24));
  EXPECT_EQ(streamed, r->text);
}

// A stop string made of the end of one token and the start of the next.
TEST(Generation, StopStringAcrossTokens) {
  const auto ids = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1]["greedy"].get<std::vector<int32_t>>();
  std::string a, b;
  int k = 0;
  for (; k + 1 < static_cast<int>(ids.size()); ++k) {
    a = tok().decode(std::vector<int32_t>{ids[k]});
    b = tok().decode(std::vector<int32_t>{ids[k + 1]});
    if (a.size() >= 2 && b.size() >= 2 && text::is_valid_utf8(a) && text::is_valid_utf8(b)) break;
  }
  ASSERT_LT(k + 1, static_cast<int>(ids.size()));
  const std::string stop = a.substr(a.size() - 1) + b.substr(0, 1);
  const std::string full = reference_text(24);
  const std::size_t at = full.find(stop);
  ASSERT_NE(at, std::string::npos);
  GenerationRequest req = greedy_request(24);
  req.stop = {"never-appears-\x01", stop};
  Session s(tiny());
  std::string streamed;
  auto r = generate(s, &tok(), req, [&](std::string_view p) {
    streamed += p;
    return true;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::kStop);
  EXPECT_EQ(r->text, full.substr(0, at));
  EXPECT_EQ(streamed, r->text);  // the held-back first half was never streamed
}

TEST(Generation, StopTokenEndsGeneration) {
  GenerationRequest req = greedy_request(24);
  const auto ids = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1]["greedy"].get<std::vector<int32_t>>();
  req.stop_tokens = {ids[5]};
  Session s(tiny());
  auto r = generate(s, &tok(), req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::kStop);
  ASSERT_EQ(r->tokens.size(), 6u);
  EXPECT_EQ(r->text, reference_text(5));
}

TEST(Generation, CancelFromSink) {
  Session s(tiny());
  int calls = 0;
  auto r = generate(s, &tok(), greedy_request(24), [&](std::string_view) { return ++calls < 3; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::kCancelled);
  EXPECT_LT(r->tokens.size(), 24u);
}

TEST(Generation, ReusesCachedPrefix) {
  Session s(tiny());
  GenerationRequest req = greedy_request(6);
  auto first = generate(s, &tok(), req);
  ASSERT_TRUE(first.ok());
  // the next turn extends the same conversation
  for (const auto& t : first->tokens) req.prompt.push_back(t.id);
  req.prompt.push_back(16);
  auto second = generate(s, &tok(), req);
  ASSERT_TRUE(second.ok());
  EXPECT_GE(second->reused_prompt_tokens, static_cast<int64_t>(req.prompt.size()) - 3);
  Session fresh(tiny());
  auto ref = generate(fresh, &tok(), req);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(second->text, ref->text);
}

TEST(Generation, SeededSamplingIsReproducible) {
  GenerationRequest req = greedy_request(12);
  req.sampling.temperature = 0.9f;
  req.sampling.top_p = 0.9f;
  req.sampling.seed = 77;
  Session a(tiny()), b(tiny());
  auto ra = generate(a, &tok(), req), rb = generate(b, &tok(), req);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->text, rb->text);
  req.sampling.seed = 78;
  Session c(tiny());
  EXPECT_NE(generate(c, &tok(), req)->text, ra->text);
}

TEST(Generation, BadRequestsAreErrors) {
  Session s(tiny());
  GenerationRequest req = greedy_request(4);
  req.sampling.top_p = 2.0f;
  EXPECT_FALSE(generate(s, &tok(), req).ok());
  req = greedy_request(4);
  req.prompt = {};
  EXPECT_FALSE(generate(s, &tok(), req).ok());
  req = greedy_request(4);
  req.prompt.push_back(1 << 20);
  EXPECT_FALSE(generate(s, &tok(), req).ok());
}

TEST(StopMatcher, HoldsBackPartialMatches) {
  StopMatcher m({"</end>", "xyz"});
  EXPECT_EQ(m.held_back("hello </e"), 3u);
  EXPECT_EQ(m.held_back("hello x"), 1u);
  EXPECT_EQ(m.held_back("hello"), 0u);
  EXPECT_EQ(m.find("ab</end>cd", 3), 2u);
  EXPECT_EQ(m.find("abc", 0), std::string::npos);
}

// --- beam search

TEST(BeamSearch, OneBeamIsGreedy) {
  const auto ref = read_json(reference_dir() + "/goldens/tiny-fp8/reference.json")["prompts"][2];
  BeamSearchParams p;
  p.beams = 1;
  p.max_tokens = 24;
  auto r = beam_search(*loaded("tiny-fp8").transformer, ref["ids"].get<std::vector<int32_t>>(), p);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].tokens, ref["greedy"].get<std::vector<int32_t>>());
}

// After two steps the N beams are exactly the N best two-token extensions,
// scored by a brute-force evaluation without any cache sharing.
TEST(BeamSearch, KeepsTheNBestExtensions) {
  Transformer& t = *loaded("tiny-fp8").transformer;
  const int64_t vocab = t.config().vocab_size;
  const std::vector<int32_t> prompt{0, 17, 300, 1201, 42};
  const int n = 3;
  BeamSearchParams p;
  p.beams = n;
  p.max_tokens = 2;
  p.length_penalty = 0.0f;
  auto got = beam_search(t, prompt, p);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), static_cast<std::size_t>(n));

  auto logprobs_after = [&](const std::vector<int32_t>& seq) {
    Session s(t, 0);
    EXPECT_TRUE(s.append(seq).ok());
    std::vector<float> lp;
    log_softmax(s.last_logits().data(), vocab, lp);
    return lp;
  };
  const auto lp1 = logprobs_after(prompt);
  // candidate set: the 8 best first tokens (a superset of what N beams can keep)
  std::vector<int32_t> first(vocab);
  std::iota(first.begin(), first.end(), 0);
  std::partial_sort(first.begin(), first.begin() + 8, first.end(), [&](int a, int b) { return lp1[a] > lp1[b]; });
  first.resize(8);
  struct Ext {
    double lp;
    std::vector<int32_t> toks;
  };
  std::vector<Ext> all;
  std::vector<Ext> step1;
  for (int32_t a : first) step1.push_back({lp1[a], {a}});
  std::sort(step1.begin(), step1.end(), [](const Ext& x, const Ext& y) { return x.lp > y.lp; });
  step1.resize(n);  // step 1 keeps the N best single tokens
  for (const Ext& e : step1) {
    std::vector<int32_t> seq = prompt;
    seq.push_back(e.toks[0]);
    const auto lp2 = logprobs_after(seq);
    for (int32_t b = 0; b < vocab; ++b) all.push_back({e.lp + lp2[b], {e.toks[0], b}});
  }
  std::sort(all.begin(), all.end(), [](const Ext& x, const Ext& y) { return x.lp > y.lp; });
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ((*got)[i].tokens, all[i].toks) << "beam " << i;
    EXPECT_NEAR((*got)[i].logprob, all[i].lp, 1e-4) << "beam " << i;
  }
}

TEST(BeamSearch, StopTokenFinishesHypotheses) {
  Transformer& t = *loaded("tiny-fp8").transformer;
  BeamSearchParams p;
  p.beams = 2;
  p.max_tokens = 6;
  // make the greedy first token a stop token: one hypothesis finishes at once
  Session s(t);
  const std::vector<int32_t> prompt{0, 5, 9};
  ASSERT_TRUE(s.append(prompt).ok());
  p.stop_tokens = {argmax(s.last_logits().data(), t.config().vocab_size)};
  auto r = beam_search(t, prompt, p);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->empty());
  bool any_finished = false;
  for (const auto& h : *r) any_finished |= h.finished && h.tokens.empty();
  EXPECT_TRUE(any_finished);
  EXPECT_FALSE(beam_search(t, prompt, BeamSearchParams{0, 4, 1.0f, {}}).ok());
}

}  // namespace
}  // namespace dsv3::test
