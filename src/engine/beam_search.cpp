#include "engine/beam_search.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <optional>

#include "engine/completion_text.h"
#include "engine/session.h"

namespace dsv3 {

namespace {
struct Beam {
  std::unique_ptr<Session> session;
  std::vector<int32_t> tokens;
  double logprob = 0.0;
  std::vector<float> next_logprobs;
  std::optional<CompletionText> text;  // with a tokenizer
};
struct Candidate {
  double logprob;
  int beam;
  int32_t token;
};
double normalised(double logprob, std::size_t length, float penalty) {
  return logprob / std::pow(static_cast<double>(std::max<std::size_t>(length, 1)), penalty);
}
// The final text of a beam's completion (a dangling partial character becomes U+FFFD).
std::string final_text(const std::optional<CompletionText>& t) {
  if (!t) return {};
  CompletionText copy = *t;
  copy.finish();
  return copy.text();
}
}  // namespace

Result<std::vector<Hypothesis>> beam_search(ForwardPass& model, std::span<const int32_t> prompt,
                                            const BeamSearchParams& p) {
  if (p.beams < 1) return make_error("beams must be at least 1, got {}", p.beams);
  const int64_t vocab = model.config().vocab_size;
  DSV3_RETURN_IF_ERROR(check_generation(prompt, p, vocab, p.tokenizer != nullptr));
  const int n = p.beams;
  std::vector<Beam> live(1);
  live[0].session = std::make_unique<Session>(model);
  DSV3_RETURN_IF_ERROR(live[0].session->append(prompt));
  log_softmax(live[0].session->last_logits().data(), vocab, live[0].next_logprobs);
  if (p.tokenizer != nullptr) live[0].text.emplace(p.stop);
  std::vector<Hypothesis> done;
  std::vector<int32_t> order(static_cast<std::size_t>(vocab));

  for (int64_t step = 0; step < p.max_tokens && !live.empty(); ++step) {
    // each beam's 2N best tokens contain every candidate the N best can need, even with stops
    std::vector<Candidate> cands;
    for (int b = 0; b < static_cast<int>(live.size()); ++b) {
      const auto& lp = live[b].next_logprobs;
      const int64_t k = std::min<int64_t>(2 * n, vocab);
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int32_t a, int32_t c) { return lp[a] > lp[c] || (lp[a] == lp[c] && a < c); });
      for (int64_t i = 0; i < k; ++i) cands.push_back({live[b].logprob + lp[order[i]], b, order[i]});
    }
    std::stable_sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& c) { return a.logprob > c.logprob; });
    // the N best extensions continue; stop tokens among them finish a hypothesis
    // (a token that completes a stop string finishes its hypothesis too, with the token kept)
    std::vector<Candidate> chosen;
    std::vector<std::optional<CompletionText>> chosen_text;
    // a finished hypothesis of `length` scored tokens; whether n are now done
    auto finish = [&](std::vector<int32_t> tokens, double logprob, std::size_t length, std::string text) {
      const double score = normalised(logprob, length, p.length_penalty);
      done.push_back({std::move(tokens), logprob, score, true, std::move(text)});
      return static_cast<int>(done.size()) >= n;
    };
    for (const Candidate& c : cands) {
      if (static_cast<int>(chosen.size()) >= n) break;
      const Beam& parent = live[c.beam];
      if (p.is_stop_token(c.token)) {
        if (finish(parent.tokens, c.logprob, parent.tokens.size() + 1, final_text(parent.text))) break;
        continue;
      }
      std::optional<CompletionText> text = parent.text;
      if (text && text->push(p.tokenizer->token_bytes(c.token))) {
        std::vector<int32_t> tokens = parent.tokens;
        tokens.push_back(c.token);
        const std::size_t length = tokens.size();
        if (finish(std::move(tokens), c.logprob, length, text->text())) break;
        continue;
      }
      chosen.push_back(c);
      chosen_text.push_back(std::move(text));
    }
    if (static_cast<int>(done.size()) >= n) {
      // stop when no live beam can still beat the worst kept hypothesis (lengths only grow)
      std::sort(done.begin(), done.end(), [](const Hypothesis& a, const Hypothesis& c) { return a.score > c.score; });
      done.resize(static_cast<std::size_t>(n));
      const double best_live =
          chosen.empty() ? -INFINITY : normalised(chosen[0].logprob, live[chosen[0].beam].tokens.size() + 1, p.length_penalty);
      if (best_live <= done.back().score) {
        live.clear();
        break;
      }
    }
    // fork: a parent with one child hands over its session, others are copied
    std::vector<int> children(live.size(), 0);
    for (const Candidate& c : chosen) children[c.beam] += 1;
    std::vector<Beam> next;
    next.reserve(chosen.size());
    for (std::size_t i = 0; i < chosen.size(); ++i) {
      const Candidate& c = chosen[i];
      Beam& parent = live[c.beam];
      Beam child;
      if (--children[c.beam] == 0)
        child.session = std::move(parent.session);
      else
        child.session = std::make_unique<Session>(*parent.session);
      child.tokens = parent.tokens;
      child.tokens.push_back(c.token);
      child.logprob = c.logprob;
      child.text = std::move(chosen_text[i]);
      next.push_back(std::move(child));
    }
    live = std::move(next);
    if (step + 1 < p.max_tokens) {
      for (Beam& b : live) {
        DSV3_RETURN_IF_ERROR(b.session->append(std::span<const int32_t>(&b.tokens.back(), 1)));
        log_softmax(b.session->last_logits().data(), vocab, b.next_logprobs);
      }
    }
  }
  for (Beam& b : live) {
    Hypothesis h{b.tokens, b.logprob, normalised(b.logprob, b.tokens.size(), p.length_penalty), false, {}};
    if (b.text) {
      CompletionText t = *b.text;
      h.finished = t.finish();  // a dangling partial character may complete a stop string
      h.text = t.text();
    }
    done.push_back(std::move(h));
  }
  std::stable_sort(done.begin(), done.end(), [](const Hypothesis& a, const Hypothesis& c) { return a.score > c.score; });
  if (static_cast<int>(done.size()) > n) done.resize(static_cast<std::size_t>(n));
  return done;
}

}  // namespace dsv3
