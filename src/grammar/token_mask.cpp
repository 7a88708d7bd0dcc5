#include "grammar/token_mask.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace dsv3::grammar {

namespace {

uint64_t hash_state(const State& s) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  mix(s.frames.data(), s.frames.size() * sizeof(Frame));
  mix(s.ends.data(), s.ends.size() * sizeof(uint32_t));
  return h;
}

bool same_state(const State& a, const State& b) { return a.frames == b.frames && a.ends == b.ends; }

}  // namespace

TokenMasker::TokenMasker(const Matcher& matcher, const TokenVocabulary& vocab) : m_(matcher), v_(vocab) {
  depth_.resize(static_cast<std::size_t>(vocab.max_token_bytes()) + 1);
  for (State& s : depth_) {
    s.frames.reserve(64);
    s.ends.reserve(8);
  }
  // one token of at most max_token_bytes may open that many values, each
  // needing at most max_min_bytes to close
  slack_ = static_cast<int64_t>(vocab.max_token_bytes() + 1) * (matcher.grammar().max_min_bytes + kMaxDepth + 8);
  for (Entry& e : cache_) e.mask.assign(vocab.words(), 0);
  dfa_path_.resize(static_cast<std::size_t>(vocab.max_token_bytes()) + 1);
}

std::span<const uint64_t> TokenMasker::pattern_tokens(int32_t regex, int32_t q) {
  for (const PatternEntry& e : pattern_cache_)
    if (e.regex == regex && e.q == q) return e.mask;
  PatternEntry* e = nullptr;
  if (pattern_cache_.size() < kPatternStates) {
    pattern_cache_.emplace_back();
    e = &pattern_cache_.back();
    e->mask.resize(v_.words());
  } else {
    e = &pattern_cache_[pattern_next_];
    pattern_next_ = (pattern_next_ + 1) % kPatternStates;
  }
  e->regex = regex;
  e->q = q;
  std::fill(e->mask.begin(), e->mask.end(), 0);
  const ByteRegex& re = m_.grammar().regexes[static_cast<std::size_t>(regex)];
  const TokenTrie& trie = v_.ascii_plain();
  for (std::size_t i = 0; i < trie.size();) {
    const std::size_t d = trie.depth(i);
    const int32_t next = re.next(d == 1 ? q : dfa_path_[d - 1], trie.byte(i));
    if (next < 0) {
      i = trie.subtree_end(i);
      continue;
    }
    dfa_path_[d] = next;
    for (int32_t t : trie.tokens_at(i)) e->mask[static_cast<std::size_t>(t) / 64] |= uint64_t{1} << (t % 64);
    ++i;
  }
  return e->mask;
}

int64_t TokenMasker::plain_room(const State& s) const {
  if (s.threads() != 1 || s.frames.empty()) return -1;
  const Frame& f = s.frames.back();
  const Node& n = m_.grammar().nodes[f.node];
  if (f.phase != 1 || f.esc != 0 || f.ws != 0) return -1;
  if (f.role == 0 && n.kind == NodeKind::kString && n.regex < 0) return n.max_length - static_cast<int64_t>(f.count);
  // a key that is none of the properties: free string text, bounded in bytes (a code point takes at most 4)
  if (f.role == 1 && f.a == 0 && f.b == 0 && n.additional >= 0) return (static_cast<int64_t>(kMaxFreeKeyBytes) - f.count) / 4;
  return -1;
}

void TokenMasker::walk(const TokenTrie& trie, const State& s, int64_t budget, std::span<uint64_t> allowed) {
  const std::size_t n = trie.size();
  for (std::size_t i = 0; i < n;) {
    const std::size_t d = trie.depth(i);
    const State& parent = d == 1 ? s : depth_[d - 1];
    State& here = depth_[d];
    if (!m_.advance(parent, trie.byte(i), here)) {
      i = trie.subtree_end(i);
      continue;
    }
    const auto toks = trie.tokens_at(i);
    if (!toks.empty()) {
      if (budget < 0 || m_.min_close(here) <= budget) {
        for (int32_t t : toks) allowed[static_cast<std::size_t>(t) / 64] |= uint64_t{1} << (t % 64);
      } else {
        bound_ = true;
      }
    }
    ++i;
  }
}

void TokenMasker::compute(const State& s, int64_t close, int64_t check, std::span<uint64_t> allowed) {
  const bool loose = check < 0 || close <= check;  // plain text keeps min_close: all of it fits
  const int64_t room = plain_room(s);
  const Frame* top = s.frames.empty() ? nullptr : &s.frames.back();
  const Node* node = top ? &m_.grammar().nodes[top->node] : nullptr;
  const bool long_enough = top && (top->role == 1 || static_cast<int64_t>(top->count) >= node->min_length);
  if (room >= 0 && (loose || long_enough)) {
    // plain text never makes a string longer to close than it was, nor (once
    // the string is long enough) shorter: all of it, or none when the budget is short
    if (loose) {
      const auto plain = v_.plain_up_to(room);
      std::copy(plain.begin(), plain.end(), allowed.begin());
    } else {
      std::fill(allowed.begin(), allowed.end(), 0);
      bound_ = true;
    }
    walk(v_.not_plain(), s, check, allowed);
    return;
  }
  if (top && s.threads() == 1 && top->role == 0 && top->phase == 1 && top->esc == 0 && top->ws == 0 &&
      node->kind == NodeKind::kString && node->regex >= 0 &&
      node->max_length - static_cast<int64_t>(top->count) >= TokenVocabulary::kMaxPlain &&
      (check < 0 || close + m_.grammar().regexes[static_cast<std::size_t>(node->regex)].max_distance() <= check)) {
    // inside a pattern: its ASCII tokens by the DFA alone, the rest by the walk
    const auto pattern = pattern_tokens(node->regex, top->extra);
    std::copy(pattern.begin(), pattern.end(), allowed.begin());
    walk(v_.not_plain(), s, check, allowed);
    return;
  }
  std::fill(allowed.begin(), allowed.end(), 0);
  walk(v_.all(), s, check, allowed);
}

bool TokenMasker::fill(const State& s, int64_t remaining, std::span<uint64_t> allowed) {
  const bool end = m_.accepting(s);
  const int64_t close = m_.min_close(s);
  const int64_t budget = remaining - 1;  // what min_close may be after this token
  const bool relaxed = budget >= close + slack_ || budget >= (int64_t{1} << 40);
  const int64_t check = relaxed ? -1 : budget;
  const int64_t effective = relaxed ? std::numeric_limits<int64_t>::max() : budget;
  // a mask the budget did not cut holds for any larger budget
  const uint64_t h = hash_state(s);
  Entry& slot = cache_[h % cache_.size()];
  if (slot.valid && slot.hash == h && (slot.uncut ? effective >= slot.budget : effective == slot.budget) && same_state(slot.state, s)) {
    std::copy(slot.mask.begin(), slot.mask.end(), allowed.begin());
    return slot.end;
  }
  bound_ = false;
  compute(s, close, check, allowed);
  const bool any = std::any_of(allowed.begin(), allowed.end(), [](uint64_t w) { return w != 0; });
  if (!any && !end && check >= 0) {  // the budget is gone: close as fast as it can
    compute(s, close, -1, allowed);
    bound_ = true;
  }
  slot.valid = true;
  slot.hash = h;
  slot.end = end;
  slot.budget = effective;
  slot.uncut = !bound_;
  slot.state.frames.assign(s.frames.begin(), s.frames.end());
  slot.state.ends.assign(s.ends.begin(), s.ends.end());
  std::copy(allowed.begin(), allowed.end(), slot.mask.begin());
  return end;
}

}  // namespace dsv3::grammar
