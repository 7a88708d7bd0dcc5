// Generation on the bundled tiny model as the CLI runs it (one sequence on
// a scheduler): stop strings (also across tokens), stop tokens, streaming
// equal to the result, prefix reuse; and beam search.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <future>

#include "engine/beam_search.h"
#include "engine/completion.h"
#include "engine/completion_text.h"
#include "engine/session.h"
#include "support/golden.h"
#include "text/tokenizer.h"
#include "text/utf8.h"

namespace dsv3::test {
namespace {

const text::Tokenizer& tok() { return tiny_tokenizer(); }
Transformer& tiny() { return *loaded("tiny").transformer; }

Job greedy_request(int64_t n) {
  Job r;
  r.prompt = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1]["ids"].get<std::vector<int32_t>>();
  r.sampling.temperature = 0.0f;
  r.max_tokens = n;
  return r;
}

// The CLI's path: one sequence on a scheduler of its own (or of a test's).
Result<Completion> generate(Scheduler& s, const Job& job, const TextSink& on_text = nullptr) {
  return complete(s, job, on_text);
}
Result<Completion> generate(const Job& job, const TextSink& on_text = nullptr) {
  Scheduler s(tiny(), &tok(), one_sequence_options());
  return complete(s, job, on_text);
}

std::string reference_text(int64_t n) {
  auto g = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1]["greedy"].get<std::vector<int32_t>>();
  g.resize(n);
  return tok().decode(g);
}

TEST(Generation, GreedyTextMatchesReferenceAndStreams) {
  std::string streamed;
  auto r = generate(greedy_request(24), [&](std::string_view p) { streamed += p; });
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
  Job req = greedy_request(24);
  req.stop = {"never-appears-\x01", stop};
  std::string streamed;
  auto r = generate(req, [&](std::string_view p) { streamed += p; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::kStop);
  EXPECT_EQ(r->text, full.substr(0, at));
  EXPECT_EQ(streamed, r->text);  // the held-back first half was never streamed
}

TEST(Generation, StopTokenEndsGeneration) {
  Job req = greedy_request(24);
  const auto ids = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1]["greedy"].get<std::vector<int32_t>>();
  req.stop_tokens = {ids[5]};
  auto r = generate(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->finish, FinishReason::kStop);
  ASSERT_EQ(r->tokens.size(), 6u);
  EXPECT_EQ(r->text, reference_text(5));
}

// The sink hears only non-empty final text and says stop on its third call:
// generation ends with the token that produced that third piece. Which token
// that is follows from the reference continuation streamed through a
// Utf8Stream (a partial character yields no piece until it completes).
TEST(Generation, CancelFromSink) {
  const auto greedy = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1]["greedy"].get<std::vector<int32_t>>();
  std::size_t expected = 0;
  {
    text::Utf8Stream stream;
    int pieces = 0;
    for (std::size_t i = 0; i < greedy.size() && pieces < 3; ++i) {
      std::string piece;
      stream.push(tok().token_bytes(greedy[i]), piece);
      if (!piece.empty() && ++pieces == 3) expected = i + 1;
    }
  }
  ASSERT_GT(expected, 0u) << "the reference continuation has fewer than three pieces";
  ASSERT_LT(expected, 24u);
  // the sink of the job itself: its answer applies to the token that made the piece
  Scheduler s(tiny(), &tok(), one_sequence_options());
  int calls = 0;
  std::string streamed;
  std::vector<int32_t> ids;
  std::promise<FinishReason> finished;
  const SubmitResult submitted = s.submit(greedy_request(24), [&](const JobEvent& e) {
    streamed += e.text;
    ids.insert(ids.end(), e.tokens.begin(), e.tokens.end());
    if (e.done) {
      finished.set_value(e.finish);
      return true;
    }
    EXPECT_FALSE(e.text.empty());
    return ++calls < 3;
  });
  ASSERT_EQ(submitted.code, SubmitResult::Code::kOk) << submitted.message;
  EXPECT_EQ(finished.get_future().get(), FinishReason::kCancelled);
  EXPECT_EQ(calls, 3);
  ASSERT_EQ(ids.size(), expected);
  for (std::size_t i = 0; i < expected; ++i) EXPECT_EQ(ids[i], greedy[i]) << i;
  EXPECT_EQ(streamed, tok().decode(ids)) << "what was streamed is the text of the tokens";
}

// logit_bias -100 bans a token: the greedy pick at each step is the argmax of
// the logits without it, and it never appears, also when sampling.
TEST(Generation, LogitBiasMinus100BansTheArgmax) {
  const auto greedy = read_json(reference_dir() + "/goldens/tiny/reference.json")["prompts"][1]["greedy"].get<std::vector<int32_t>>();
  const int32_t banned = greedy[0];  // the token greedy decoding picks first
  Job req = greedy_request(12);
  req.sampling.logit_bias = {{banned, -100.0f}};
  auto r = generate(req);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->tokens.size(), 12u);
  // independently: each step's pick is the best token other than the banned one
  std::vector<int32_t> ids = req.prompt;
  for (int32_t t : r->tokens) ids.push_back(t);
  const int64_t vocab = tiny().config().vocab_size;
  const int64_t first = static_cast<int64_t>(req.prompt.size()) - 1;
  for_each_logits_row(tiny(), ids, 0, [&](int64_t row, const float* l) {
    if (row < first || row >= first + 12) return;
    if (row == first) {
      EXPECT_EQ(argmax(l, vocab), banned) << "the banned token is the unbiased argmax";
    }
    const int32_t got = ids[row + 1];
    EXPECT_NE(got, banned) << "row " << row;
    for (int64_t v = 0; v < vocab; ++v)
      if (v != banned) {
        ASSERT_GE(l[got] + 1e-5f, l[v]) << "row " << row << ": token " << v << " beats the pick " << got;
      }
  });
  // sampling, many seeds, at a temperature where the banned token would be
  // drawn often: never with the bias, at least once without it
  int unbiased_hits = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Job cold = greedy_request(4);
    cold.sampling.temperature = 0.05f;
    cold.sampling.seed = seed;
    auto plain = generate(cold);
    ASSERT_TRUE(plain.ok());
    for (int32_t t : plain->tokens) unbiased_hits += t == banned;
    cold.sampling.logit_bias = {{banned, -100.0f}};
    auto g = generate(cold);
    ASSERT_TRUE(g.ok());
    for (int32_t t : g->tokens) ASSERT_NE(t, banned) << "seed " << seed;
  }
  EXPECT_GT(unbiased_hits, 0) << "without the bias the token is drawn: the check above can fail";
}

TEST(Generation, ReusesCachedPrefix) {
  Scheduler s(tiny(), &tok(), one_sequence_options());
  Job req = greedy_request(6);
  auto first = generate(s, req);
  ASSERT_TRUE(first.ok());
  // the next turn extends the same conversation
  for (int32_t t : first->tokens) req.prompt.push_back(t);
  req.prompt.push_back(16);
  auto second = generate(s, req);
  ASSERT_TRUE(second.ok());
  EXPECT_GE(second->usage.cached_prompt_tokens, static_cast<int64_t>(req.prompt.size()) - 3);
  auto ref = generate(req);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(second->text, ref->text);
}

TEST(Generation, SeededSamplingIsReproducible) {
  Job req = greedy_request(12);
  req.sampling.temperature = 0.9f;
  req.sampling.top_p = 0.9f;
  req.sampling.seed = 77;
  auto ra = generate(req), rb = generate(req);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->text, rb->text);
  req.sampling.seed = 78;
  EXPECT_NE(generate(req)->text, ra->text);
}

// A constraint that allows only token `only`, and says the text is whole after `len` tokens.
class OnlyToken final : public TokenConstraint {
 public:
  OnlyToken(int32_t only, int len) : only_(only), left_(len) {}
  bool allowed(std::span<uint64_t> bits, int64_t) override {
    bits[static_cast<std::size_t>(only_) / 64] |= uint64_t{1} << (only_ % 64);
    return true;
  }
  void accept(int32_t t) override {
    EXPECT_EQ(t, only_);
    --left_;
  }
  bool complete() const override { return left_ <= 0; }

 private:
  int32_t only_;
  int left_;
};

TEST(Generation, AConstraintChoosesTheTokensAndEndsTheAnswerWhenWhole) {
  Job job = greedy_request(20);
  job.sampling.temperature = 1.0f;
  job.sampling.seed = 7;
  job.constraint = [] { return std::make_unique<OnlyToken>(1000, 3); };
  auto r = generate(job);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->tokens, std::vector<int32_t>(3, 1000));
  EXPECT_EQ(r->finish, FinishReason::kStop) << "whole at its third token: a stop, without drawing an end token";
}

TEST(Generation, BadRequestsAreErrors) {
  Scheduler s(tiny(), &tok(), one_sequence_options());
  Job req = greedy_request(4);
  req.sampling.top_p = 2.0f;
  EXPECT_FALSE(generate(s, req).ok());
  req = greedy_request(4);
  req.prompt = {};
  EXPECT_FALSE(generate(s, req).ok());
  req = greedy_request(4);
  req.prompt.push_back(1 << 20);
  EXPECT_FALSE(generate(s, req).ok());
}

TEST(StopMatcher, HoldsBackPartialMatches) {
  StopMatcher m({"</end>", "xyz"});
  EXPECT_EQ(m.held_back("hello </e"), 3u);
  EXPECT_EQ(m.held_back("hello x"), 1u);
  EXPECT_EQ(m.held_back("hello"), 0u);
  EXPECT_EQ(m.find("ab</end>cd", 3), 2u);
  EXPECT_EQ(m.find("abc", 0), std::string::npos);
  std::size_t which = 99;
  EXPECT_EQ(m.find("a xyz </end>", 0, &which), 2u);  // the earliest match wins
  EXPECT_EQ(m.stop(which), "xyz");
}

TEST(CompletionText, TellsWhichStopStringEndedIt) {
  CompletionText t({"", "STOP", "END"});  // the empty one is dropped, the indices still right
  EXPECT_FALSE(t.push("abc E"));
  EXPECT_TRUE(t.stopped_by().empty());
  EXPECT_TRUE(t.push("ND"));
  EXPECT_EQ(t.text(), "abc ");
  EXPECT_EQ(t.stopped_by(), "END");
  CompletionText copy = t;  // beam search copies texts: the copy answers from its own strings
  EXPECT_EQ(copy.stopped_by(), "END");
  CompletionText none({"STOP"});
  EXPECT_FALSE(none.push("abc"));
  EXPECT_FALSE(none.finish());
  EXPECT_TRUE(none.stopped_by().empty());
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
  BeamSearchParams none;
  none.beams = 0;
  EXPECT_FALSE(beam_search(t, prompt, none).ok());
}

// Stop strings in beam search. With one beam it is greedy decoding, so it
// stops where sampling at temperature 0 with the same stop string stops.
TEST(BeamSearch, OneBeamStopsWhereGreedyStops) {
  const std::string full = reference_text(24);
  ASSERT_GT(full.size(), 8u);
  const std::string stop = full.substr(full.size() / 2, 3);
  const std::size_t at = full.find(stop);
  Job req = greedy_request(24);
  req.stop = {stop};
  auto g = generate(req);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->finish, FinishReason::kStop);
  ASSERT_EQ(g->text, full.substr(0, at));

  BeamSearchParams p;
  p.beams = 1;
  p.max_tokens = 24;
  p.tokenizer = &tok();
  auto unstopped = beam_search(tiny(), req.prompt, p);
  ASSERT_TRUE(unstopped.ok()) << unstopped.error().message;
  EXPECT_EQ(unstopped->front().text, full);
  EXPECT_FALSE(unstopped->front().finished);
  p.stop = {"never-appears-\x01", stop};
  auto r = beam_search(tiny(), req.prompt, p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  const Hypothesis& h = r->front();
  EXPECT_TRUE(h.finished);
  EXPECT_EQ(h.text, g->text);
  EXPECT_EQ(h.tokens, g->tokens) << "ends with the token that completed the stop string";
  // stop strings need the tokenizer
  p.tokenizer = nullptr;
  EXPECT_FALSE(beam_search(tiny(), req.prompt, p).ok());
}

// With several beams every hypothesis is cut at its first stop string: a
// finished one ends with the token that completed it, an unfinished one
// never contains it. The stop string is the text of the most likely first
// token, so with no length penalty (score = log probability, which only
// falls as tokens are added) that one-token hypothesis ranks first.
TEST(BeamSearch, StopStringsEndEveryHypothesis) {
  const auto prompt = greedy_request(1).prompt;
  Session s(tiny());
  ASSERT_TRUE(s.append(prompt).ok());
  const int32_t first = argmax(s.last_logits().data(), tiny().config().vocab_size);
  const std::string stop = tok().decode(std::vector<int32_t>{first});
  ASSERT_FALSE(stop.empty());
  ASSERT_TRUE(text::is_valid_utf8(stop));
  auto check = [&](const std::vector<Hypothesis>& hyps, const std::string& stop, const std::string& what) {
    for (std::size_t i = 0; i < hyps.size(); ++i) {
      const Hypothesis& h = hyps[i];
      SCOPED_TRACE(what + ", hypothesis " + std::to_string(i));
      const std::string all = tok().decode(h.tokens);
      EXPECT_EQ(h.text.find(stop), std::string::npos) << h.text;
      if (h.finished) {
        ASSERT_FALSE(h.tokens.empty());
        const std::string before = tok().decode(std::span(h.tokens).first(h.tokens.size() - 1));
        EXPECT_EQ(before.find(stop), std::string::npos) << "finished later than its first stop string";
        ASSERT_NE(all.find(stop), std::string::npos);
        EXPECT_EQ(h.text, all.substr(0, all.find(stop)));
      } else {
        EXPECT_EQ(h.text, all);
      }
    }
  };
  BeamSearchParams p;
  p.beams = 3;
  p.max_tokens = 8;
  p.length_penalty = 0.0f;
  p.tokenizer = &tok();
  p.stop = {stop};
  auto r = beam_search(tiny(), prompt, p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_FALSE(r->empty());
  check(*r, stop, "no length penalty");
  EXPECT_EQ(r->front().tokens, std::vector<int32_t>{first});
  EXPECT_TRUE(r->front().finished);
  EXPECT_EQ(r->front().text, "");
  // a stop string from the middle of the unstopped best hypothesis
  p.length_penalty = 1.0f;
  p.max_tokens = 16;
  p.stop = {};
  auto free_run = beam_search(tiny(), prompt, p);
  ASSERT_TRUE(free_run.ok());
  const std::string best = free_run->front().text;
  ASSERT_GT(best.size(), 6u);
  const std::string middle = best.substr(best.size() / 2, 2);
  p.stop = {middle};
  auto cut = beam_search(tiny(), prompt, p);
  ASSERT_TRUE(cut.ok());
  ASSERT_FALSE(cut->empty());
  check(*cut, middle, "length penalty 1");
}

}  // namespace
}  // namespace dsv3::test
