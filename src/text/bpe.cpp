#include "text/bpe.h"

#include <queue>

#include "text/byte_level.h"

namespace dsv3::text {

Result<Bpe> Bpe::build(std::unordered_map<std::string, int32_t> vocab,
                       const std::vector<std::pair<std::string, std::string>>& merges) {
  Bpe b;
  b.vocab_ = std::move(vocab);
  for (const auto& [tok, id] : b.vocab_) {
    std::size_t i = 0;
    const uint32_t cp = next_code_point(tok, i);
    if (i == tok.size()) b.char_ids_[cp] = id;
  }
  b.merges_.reserve(merges.size());
  for (std::size_t r = 0; r < merges.size(); ++r) {
    const auto& [l, rt] = merges[r];
    auto li = b.vocab_.find(l), ri = b.vocab_.find(rt), mi = b.vocab_.find(l + rt);
    if (li == b.vocab_.end() || ri == b.vocab_.end() || mi == b.vocab_.end())
      return make_error("merge {} (\"{} {}\") uses a token that is not in the vocabulary", r, l, rt);
    b.merges_.emplace(key(li->second, ri->second), Merge{static_cast<int32_t>(r), mi->second});
  }
  return b;
}

std::optional<int32_t> Bpe::id_of(const std::string& token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

void Bpe::encode_symbols(std::string_view symbols, std::vector<int32_t>& out) const {
  // one symbol per character, linked so merges can splice them out
  struct Sym {
    int32_t id;
    int32_t prev, next;
  };
  std::vector<Sym> syms;
  syms.reserve(symbols.size());
  for (std::size_t i = 0; i < symbols.size();) {
    const uint32_t cp = next_code_point(symbols, i);
    auto it = char_ids_.find(cp);
    const int32_t n = static_cast<int32_t>(syms.size());
    syms.push_back({it == char_ids_.end() ? -1 : it->second, n - 1, n + 1});
  }
  if (syms.empty()) return;
  syms.back().next = -1;

  struct Candidate {
    int32_t rank, left, left_id, right_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto consider = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = syms[left].next;
    if (right < 0 || syms[left].id < 0 || syms[right].id < 0) return;
    auto it = merges_.find(key(syms[left].id, syms[right].id));
    if (it != merges_.end()) heap.push({it->second.rank, left, syms[left].id, syms[right].id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) consider(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Sym& l = syms[c.left];
    if (l.id != c.left_id || l.next < 0 || syms[l.next].id != c.right_id) continue;  // stale
    const int32_t right = l.next;
    l.id = merges_.at(key(c.left_id, c.right_id)).result;
    l.next = syms[right].next;
    if (l.next >= 0) syms[l.next].prev = c.left;
    syms[right].id = -2;  // spliced out
    consider(l.prev);
    consider(c.left);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next)
    if (syms[i].id >= 0) out.push_back(syms[i].id);
}

}  // namespace dsv3::text
