#include "grammar/token_trie.h"

#include <algorithm>
#include <numeric>

namespace dsv3::grammar {

TokenTrie::TokenTrie(const std::vector<std::string>& tokens, const std::vector<bool>& include) {
  std::vector<int32_t> order;
  for (std::size_t i = 0; i < tokens.size(); ++i)
    if (include[i] && !tokens[i].empty() && tokens[i].size() < 256) order.push_back(static_cast<int32_t>(i));
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return tokens[static_cast<std::size_t>(a)] < tokens[static_cast<std::size_t>(b)] || (tokens[static_cast<std::size_t>(a)] == tokens[static_cast<std::size_t>(b)] && a < b);
  });
  // sorted strings give the nodes in preorder: each adds the nodes past its
  // common prefix with the one before
  std::vector<uint32_t> path;  // node index per depth - 1 of the current string
  std::vector<std::vector<int32_t>> toks;
  const std::string* prev = nullptr;
  for (int32_t id : order) {
    const std::string& s = tokens[static_cast<std::size_t>(id)];
    std::size_t lcp = 0;
    if (prev)
      while (lcp < s.size() && lcp < prev->size() && s[lcp] == (*prev)[lcp]) ++lcp;
    path.resize(lcp);
    for (std::size_t d = lcp; d < s.size(); ++d) {
      path.push_back(static_cast<uint32_t>(byte_.size()));
      byte_.push_back(static_cast<uint8_t>(s[d]));
      depth_.push_back(static_cast<uint8_t>(d + 1));
      toks.emplace_back();
    }
    toks[path.back()].push_back(id);
    max_depth_ = std::max(max_depth_, static_cast<int>(s.size()));
    prev = &s;
  }
  const std::size_t n = byte_.size();
  end_.assign(n, static_cast<uint32_t>(n));
  std::vector<uint32_t> open;  // ancestors of the node being placed
  for (std::size_t i = 0; i < n; ++i) {
    while (!open.empty() && depth_[open.back()] >= depth_[i]) {
      end_[open.back()] = static_cast<uint32_t>(i);
      open.pop_back();
    }
    open.push_back(static_cast<uint32_t>(i));
  }
  tok_begin_.assign(n + 1, 0);
  for (std::size_t i = 0; i < n; ++i) {
    tok_begin_[i + 1] = tok_begin_[i] + static_cast<uint32_t>(toks[i].size());
    ids_.insert(ids_.end(), toks[i].begin(), toks[i].end());
  }
}

namespace {

// Code points of a token that is plain string text, or -1.
int plain_code_points(const std::string& s) {
  int n = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    int len = 1;
    if (c < 0x20 || c == '"' || c == '\\') return -1;
    if (c >= 0x80) {
      if (c >= 0xC2 && c <= 0xDF) len = 2;
      else if (c >= 0xE0 && c <= 0xEF) len = 3;
      else if (c >= 0xF0 && c <= 0xF4) len = 4;
      else return -1;
      if (i + static_cast<std::size_t>(len) > s.size()) return -1;
      for (int k = 1; k < len; ++k)
        if ((static_cast<uint8_t>(s[i + static_cast<std::size_t>(k)]) & 0xC0) != 0x80) return -1;
    }
    i += static_cast<std::size_t>(len);
    ++n;
  }
  return n;
}

}  // namespace

TokenVocabulary::TokenVocabulary(const std::vector<std::string>& tokens, const std::vector<int32_t>& excluded)
    : vocab_(static_cast<int64_t>(tokens.size())), tokens_(tokens) {
  std::vector<bool> include(tokens.size(), true);
  for (int32_t id : excluded)
    if (id >= 0 && static_cast<std::size_t>(id) < tokens.size()) include[static_cast<std::size_t>(id)] = false;
  std::vector<bool> other = include, ascii(tokens.size(), false);
  plain_.assign(static_cast<std::size_t>(kMaxPlain + 1) * words(), 0);
  for (std::size_t id = 0; id < tokens.size(); ++id) {
    if (!include[id] || tokens[id].empty()) continue;
    const int cps = plain_code_points(tokens[id]);
    if (cps < 1 || cps > kMaxPlain) continue;
    other[id] = false;
    ascii[id] = std::all_of(tokens[id].begin(), tokens[id].end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
    for (int k = cps; k <= kMaxPlain; ++k) plain_[static_cast<std::size_t>(k) * words() + id / 64] |= uint64_t{1} << (id % 64);
  }
  all_ = TokenTrie(tokens, include);
  not_plain_ = TokenTrie(tokens, other);
  ascii_plain_ = TokenTrie(tokens, ascii);
}

int64_t TokenVocabulary::greedy_tokens(std::string_view text) const {
  int64_t n = 0;
  const TokenTrie& t = all_;
  for (std::size_t at = 0; at < text.size(); ++n) {
    // down the trie along text: the children of node i are i + 1 and its siblings
    std::size_t best = 1, depth = 0, i = 0, end = t.size();
    while (at + depth < text.size()) {
      const auto want = static_cast<uint8_t>(text[at + depth]);
      std::size_t c = depth == 0 ? 0 : i + 1;
      while (c < end && t.byte(c) != want) c = t.subtree_end(c);
      if (c >= end || t.depth(c) != depth + 1) break;
      ++depth;
      if (!t.tokens_at(c).empty()) best = depth;
      i = c;
      end = t.subtree_end(c);
    }
    at += best;
  }
  return n;
}

std::span<const uint64_t> TokenVocabulary::plain_up_to(int64_t k) const {
  const int64_t c = std::clamp<int64_t>(k, 0, kMaxPlain);
  return {plain_.data() + static_cast<std::size_t>(c) * words(), words()};
}

}  // namespace dsv3::grammar
