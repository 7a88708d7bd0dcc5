#include "grammar/byte_regex.h"

#include <algorithm>
#include <array>
#include <bit>
#include <deque>
#include <map>
#include <memory>

namespace dsv3::grammar {

namespace {

constexpr int kBytes = 95;  // printable ASCII, 0x20..0x7e
using ByteSet = std::array<bool, kBytes>;

ByteSet range(char lo, char hi) {
  ByteSet s{};
  for (int c = lo; c <= hi; ++c) s[static_cast<std::size_t>(c - 0x20)] = true;
  return s;
}
void add(ByteSet& s, const ByteSet& t) {
  for (int i = 0; i < kBytes; ++i) s[i] = s[i] || t[i];
}
ByteSet negate(const ByteSet& s) {
  ByteSet r{};
  for (int i = 0; i < kBytes; ++i) r[i] = !s[i];
  return r;
}

struct Ast {
  enum Kind { kSet, kConcat, kAlt, kRepeat } kind = kSet;
  ByteSet set{};
  std::vector<std::unique_ptr<Ast>> parts;
  int min = 0, max = -1;  // kRepeat; max -1: unbounded
};
using AstPtr = std::unique_ptr<Ast>;

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}
  Result<AstPtr> alternation() {
    auto a = std::make_unique<Ast>();
    a->kind = Ast::kAlt;
    for (;;) {
      DSV3_ASSIGN_OR_RETURN(AstPtr c, concat());
      a->parts.push_back(std::move(c));
      if (i_ < p_.size() && p_[i_] == '|') {
        ++i_;
        continue;
      }
      return a;
    }
  }
  bool done() const { return i_ >= p_.size(); }
  std::size_t at() const { return i_; }

 private:
  Result<AstPtr> concat() {
    auto c = std::make_unique<Ast>();
    c->kind = Ast::kConcat;
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') {
      DSV3_ASSIGN_OR_RETURN(AstPtr atom, this->atom());
      DSV3_ASSIGN_OR_RETURN(atom, quantified(std::move(atom)));
      c->parts.push_back(std::move(atom));
    }
    return c;
  }
  Result<AstPtr> quantified(AstPtr atom) {
    while (i_ < p_.size()) {
      int lo = 0, hi = -1;
      const char q = p_[i_];
      if (q == '*') {
        ++i_;
      } else if (q == '+') {
        lo = 1, ++i_;
      } else if (q == '?') {
        hi = 1, ++i_;
      } else if (q == '{') {
        std::size_t j = i_ + 1;
        auto number = [&](int& out) {
          const std::size_t from = j;
          long v = 0;
          while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9' && v <= 256) v = v * 10 + (p_[j++] - '0');
          out = static_cast<int>(v);
          return j > from;
        };
        if (!number(lo)) return make_error("pattern: '{{' at {} is not a quantifier {{n}}, {{n,}} or {{n,m}}", i_);
        hi = lo;
        if (j < p_.size() && p_[j] == ',') {
          ++j;
          if (!number(hi)) hi = -1;
        }
        if (j >= p_.size() || p_[j] != '}') return make_error("pattern: unterminated quantifier at {}", i_);
        if (lo > 256 || hi > 256) return make_error("pattern: a quantifier above 256 at {}", i_);
        if (hi >= 0 && hi < lo) return make_error("pattern: quantifier {{{},{}}} has max below min", lo, hi);
        i_ = j + 1;
      } else {
        break;
      }
      if (i_ < p_.size() && p_[i_] == '?') ++i_;  // lazy: the same language
      auto r = std::make_unique<Ast>();
      r->kind = Ast::kRepeat;
      r->min = lo, r->max = hi;
      r->parts.push_back(std::move(atom));
      atom = std::move(r);
    }
    return atom;
  }
  Result<ByteSet> escape() {  // after '\'
    if (i_ >= p_.size()) return make_error("pattern: ends with '\\'");
    const char c = p_[i_++];
    const ByteSet digit = range('0', '9');
    ByteSet word = range('a', 'z');
    add(word, range('A', 'Z')), add(word, digit), add(word, range('_', '_'));
    ByteSet space = range(' ', ' ');
    switch (c) {
      case 'd': return digit;
      case 'D': return negate(digit);
      case 'w': return word;
      case 'W': return negate(word);
      case 's': return space;  // of the printable bytes, only the space
      case 'S': return negate(space);
      case 'n': case 'r': case 't': case 'f': case 'v': return ByteSet{};  // control bytes are never generated
      default: break;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
      return make_error("pattern: the escape '\\{}' is not supported", c);
    if (c < 0x20 || c > 0x7e) return make_error("pattern: only printable ASCII is supported");
    return range(c, c);
  }
  Result<AstPtr> atom() {
    auto a = std::make_unique<Ast>();
    const char c = p_[i_];
    if (c == '(') {
      ++i_;
      if (p_.substr(i_, 2) == "?:") i_ += 2;
      else if (i_ < p_.size() && p_[i_] == '?') return make_error("pattern: lookaround and named groups are not supported");
      DSV3_ASSIGN_OR_RETURN(a, alternation());
      if (i_ >= p_.size() || p_[i_] != ')') return make_error("pattern: unbalanced '('");
      ++i_;
      return a;
    }
    if (c == '*' || c == '+' || c == '?' || c == '{') return make_error("pattern: nothing to repeat at {}", i_);
    if (c == '^' || c == '$') return make_error("pattern: '{}' is supported only at the start / end", c);
    ++i_;
    if (c == '.') {
      a->set = range(' ', '~');
    } else if (c == '\\') {
      DSV3_ASSIGN_OR_RETURN(a->set, escape());
    } else if (c == '[') {
      DSV3_ASSIGN_OR_RETURN(a->set, klass());
    } else {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
        return make_error("pattern: only printable ASCII is supported");
      a->set = range(c, c);
    }
    return a;
  }
  Result<ByteSet> klass() {  // after '['
    bool neg = false;
    if (i_ < p_.size() && p_[i_] == '^') neg = true, ++i_;
    ByteSet s{};
    bool first = true;
    for (;;) {
      if (i_ >= p_.size()) return make_error("pattern: unterminated '['");
      char c = p_[i_];
      if (c == ']' && !first) {
        ++i_;
        break;
      }
      first = false;
      ++i_;
      ByteSet one{};
      char lo = c;
      bool single = true;
      if (c == '\\') {
        DSV3_ASSIGN_OR_RETURN(one, escape());
        int n = 0;
        for (int k = 0; k < kBytes; ++k) n += one[k];
        single = n == 1;
        if (single)
          for (int k = 0; k < kBytes; ++k)
            if (one[k]) lo = static_cast<char>(k + 0x20);
      } else {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e)
          return make_error("pattern: only printable ASCII is supported");
        one = range(c, c);
      }
      if (single && i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
        ++i_;
        char hi = p_[i_++];
        if (hi == '\\') {
          DSV3_ASSIGN_OR_RETURN(ByteSet h, escape());
          int n = 0;
          for (int k = 0; k < kBytes; ++k)
            if (h[k]) hi = static_cast<char>(k + 0x20), ++n;
          if (n != 1) return make_error("pattern: a class range ends in a class");
        }
        if (hi < lo) return make_error("pattern: class range {}-{} is out of order", lo, hi);
        if (static_cast<unsigned char>(hi) > 0x7e) return make_error("pattern: only printable ASCII is supported");
        one = range(lo, hi);
      }
      add(s, one);
    }
    return neg ? negate(s) : s;
  }

  std::string_view p_;
  std::size_t i_ = 0;
};

// Thompson NFA: a state either reads a byte of its set into out, or splits
// into out and out2 without reading (-1: none).
struct Nfa {
  struct State {
    bool reads = false;
    ByteSet set{};
    int out = -1, out2 = -1;
  };
  std::vector<State> states;
  int add() {
    states.emplace_back();
    return static_cast<int>(states.size() - 1);
  }
};
constexpr std::size_t kMaxNfaStates = 8000;
constexpr int kMaxDfaStates = 2048;

// Emits the AST from `from` (an epsilon state already made); returns the
// state where it ends (an epsilon state with no out yet).
Result<int> emit(Nfa& n, const Ast& a, int from) {
  if (n.states.size() > kMaxNfaStates) return make_error("pattern is too large");
  switch (a.kind) {
    case Ast::kSet: {
      const int s = n.add(), e = n.add();
      n.states[static_cast<std::size_t>(from)].out = s;
      n.states[static_cast<std::size_t>(s)].reads = true;
      n.states[static_cast<std::size_t>(s)].set = a.set;
      n.states[static_cast<std::size_t>(s)].out = e;
      return e;
    }
    case Ast::kConcat: {
      int at = from;
      for (const auto& p : a.parts) {
        DSV3_ASSIGN_OR_RETURN(at, emit(n, *p, at));
      }
      return at;
    }
    case Ast::kAlt: {
      const int e = n.add();
      int fork = from;
      for (std::size_t i = 0; i < a.parts.size(); ++i) {
        const int branch = n.add();
        if (i + 1 < a.parts.size()) {
          const int next = n.add();
          n.states[static_cast<std::size_t>(fork)].out = branch;
          n.states[static_cast<std::size_t>(fork)].out2 = next;
          DSV3_ASSIGN_OR_RETURN(int end, emit(n, *a.parts[i], branch));
          n.states[static_cast<std::size_t>(end)].out = e;
          fork = next;
        } else {
          n.states[static_cast<std::size_t>(fork)].out = branch;
          DSV3_ASSIGN_OR_RETURN(int end, emit(n, *a.parts[i], branch));
          n.states[static_cast<std::size_t>(end)].out = e;
        }
      }
      return e;
    }
    case Ast::kRepeat: {
      const Ast& body = *a.parts[0];
      int at = from;
      for (int i = 0; i < a.min; ++i) {
        DSV3_ASSIGN_OR_RETURN(at, emit(n, body, at));
      }
      if (a.max < 0) {  // loop: at -> (body -> at) | exit
        const int loop = n.add(), exit = n.add();
        n.states[static_cast<std::size_t>(at)].out = loop;
        const int body_start = n.add();
        n.states[static_cast<std::size_t>(loop)].out = body_start;
        n.states[static_cast<std::size_t>(loop)].out2 = exit;
        DSV3_ASSIGN_OR_RETURN(int end, emit(n, body, body_start));
        n.states[static_cast<std::size_t>(end)].out = loop;
        return exit;
      }
      const int exit = n.add();
      for (int i = a.min; i < a.max; ++i) {  // optional copies, each may skip to exit
        const int opt = n.add();
        n.states[static_cast<std::size_t>(at)].out = opt;
        const int body_start = n.add();
        n.states[static_cast<std::size_t>(opt)].out = body_start;
        n.states[static_cast<std::size_t>(opt)].out2 = exit;
        DSV3_ASSIGN_OR_RETURN(at, emit(n, body, body_start));
      }
      n.states[static_cast<std::size_t>(at)].out = exit;
      return exit;
    }
  }
  return from;
}

// Adds what set reaches without reading; `mark` (one per NFA state) and
// `stamp` keep it linear without clearing a table per call.
void closure(const Nfa& n, std::vector<int>& set, std::vector<uint32_t>& mark, uint32_t stamp) {
  for (int s : set) mark[static_cast<std::size_t>(s)] = stamp;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const auto& st = n.states[static_cast<std::size_t>(set[i])];
    if (st.reads) continue;
    for (int o : {st.out, st.out2})
      if (o >= 0 && mark[static_cast<std::size_t>(o)] != stamp) {
        mark[static_cast<std::size_t>(o)] = stamp;
        set.push_back(o);
      }
  }
  std::sort(set.begin(), set.end());
}

}  // namespace

Result<ByteRegex> ByteRegex::compile(std::string_view pattern) {
  if (pattern.size() > 512) return make_error("pattern is longer than 512 bytes");
  // "^a$|b": each top-level branch anchored on its own; a side without an
  // anchor takes anything there
  std::vector<std::string> branches;
  {
    int depth = 0;
    bool in_class = false;
    std::string cur;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      const char c = pattern[i];
      if (c == '\\' && i + 1 < pattern.size()) {
        cur += c, cur += pattern[++i];
        continue;
      }
      if (in_class) {
        in_class = c != ']' || cur.empty() || cur.back() == '[' || (cur.size() >= 2 && cur.substr(cur.size() - 2) == "[^");
      } else if (c == '[') {
        in_class = true;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      } else if (c == '|' && depth == 0) {
        branches.push_back(std::move(cur));
        cur.clear();
        continue;
      }
      cur += c;
    }
    branches.push_back(std::move(cur));
  }
  std::string whole;
  for (std::size_t b = 0; b < branches.size(); ++b) {
    std::string& s = branches[b];
    const bool head = !s.empty() && s.front() == '^';
    const bool tail = !s.empty() && s.back() == '$' && (s.size() < 2 || s[s.size() - 2] != '\\');
    std::string body = s.substr(head ? 1 : 0, s.size() - (head ? 1 : 0) - (tail ? 1 : 0));
    if (b) whole += '|';
    whole += std::string(head ? "" : ".*") + "(?:" + body + ")" + (tail ? "" : ".*");
  }
  Parser parser(whole);
  DSV3_ASSIGN_OR_RETURN(AstPtr ast, parser.alternation());
  if (!parser.done()) return make_error("pattern: unbalanced ')'");

  Nfa nfa;
  const int start = nfa.add();
  DSV3_ASSIGN_OR_RETURN(const int final_state, emit(nfa, *ast, start));

  ByteRegex r;
  std::map<std::vector<int>, int32_t> ids;
  std::deque<std::vector<int>> todo;
  // each reading state's bytes as bits, walked by their set bits
  std::vector<std::array<uint64_t, 2>> reads(nfa.states.size(), {0, 0});
  for (std::size_t i = 0; i < nfa.states.size(); ++i)
    for (int b = 0; b < kBytes; ++b)
      if (nfa.states[i].set[static_cast<std::size_t>(b)]) reads[i][static_cast<std::size_t>(b / 64)] |= uint64_t{1} << (b % 64);
  std::vector<uint32_t> mark(nfa.states.size(), 0);
  uint32_t stamp = 0;
  std::vector<int> first{start};
  closure(nfa, first, mark, ++stamp);
  ids[first] = 0;
  todo.push_back(first);
  std::vector<std::vector<int>> sets{first};
  while (!todo.empty()) {
    std::vector<int> cur = std::move(todo.front());
    todo.pop_front();
    const int32_t id = ids[cur];
    if (static_cast<std::size_t>(id) >= r.accept_.size()) {
      r.accept_.resize(static_cast<std::size_t>(id) + 1, 0);
      r.table_.resize(r.accept_.size() * kBytes, kDead);
    }
    r.accept_[static_cast<std::size_t>(id)] = std::binary_search(cur.begin(), cur.end(), final_state);
    std::array<std::vector<int>, kBytes> by_byte;
    for (int s : cur) {
      const auto& st = nfa.states[static_cast<std::size_t>(s)];
      if (!st.reads) continue;
      for (int w = 0; w < 2; ++w)
        for (uint64_t m = reads[static_cast<std::size_t>(s)][static_cast<std::size_t>(w)]; m; m &= m - 1)
          by_byte[static_cast<std::size_t>(w * 64 + std::countr_zero(m))].push_back(st.out);
    }
    for (int b = 0; b < kBytes; ++b) {
      std::vector<int>& next = by_byte[static_cast<std::size_t>(b)];
      if (next.empty()) continue;
      std::sort(next.begin(), next.end());
      next.erase(std::unique(next.begin(), next.end()), next.end());
      closure(nfa, next, mark, ++stamp);
      auto [it, added] = ids.emplace(next, static_cast<int32_t>(ids.size()));
      if (added) {
        if (static_cast<int>(ids.size()) > kMaxDfaStates) return make_error("pattern is too complex (over {} states)", kMaxDfaStates);
        todo.push_back(next);
      }
      if (static_cast<std::size_t>(id) * kBytes + static_cast<std::size_t>(b) >= r.table_.size())
        r.table_.resize((static_cast<std::size_t>(id) + 1) * kBytes, kDead);
      r.table_[static_cast<std::size_t>(id) * kBytes + static_cast<std::size_t>(b)] = it->second;
    }
  }
  const std::size_t n = ids.size();
  r.accept_.resize(n, 0);
  r.table_.resize(n * kBytes, kDead);
  // distances to acceptance: backwards from the accepting states
  r.distance_.assign(n, 1 << 28);
  std::vector<std::vector<int32_t>> preds(n);
  for (std::size_t s = 0; s < n; ++s)
    for (int b = 0; b < kBytes; ++b)
      if (const int32_t t = r.table_[s * kBytes + static_cast<std::size_t>(b)]; t >= 0) preds[static_cast<std::size_t>(t)].push_back(static_cast<int32_t>(s));
  std::deque<int32_t> q;
  for (std::size_t s = 0; s < n; ++s)
    if (r.accept_[s]) r.distance_[s] = 0, q.push_back(static_cast<int32_t>(s));
  while (!q.empty()) {
    const int32_t t = q.front();
    q.pop_front();
    for (int32_t s : preds[static_cast<std::size_t>(t)])
      if (r.distance_[static_cast<std::size_t>(s)] > r.distance_[static_cast<std::size_t>(t)] + 1) {
        r.distance_[static_cast<std::size_t>(s)] = r.distance_[static_cast<std::size_t>(t)] + 1;
        q.push_back(s);
      }
  }
  if (r.distance_[0] >= (1 << 28)) return make_error("pattern matches no string of printable ASCII");
  for (int32_t d : r.distance_)
    if (d < (1 << 28)) r.max_distance_ = std::max(r.max_distance_, d);
  // a state that cannot reach acceptance is as good as dead: never enter it
  for (int32_t& t : r.table_)
    if (t >= 0 && r.distance_[static_cast<std::size_t>(t)] >= (1 << 28)) t = kDead;
  return r;
}

}  // namespace dsv3::grammar
