#include "grammar/matcher.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

namespace dsv3::grammar {

namespace {

constexpr uint8_t kValue = 0, kKey = 1;
constexpr uint8_t kMaxWs = 24;         // whitespace bytes in a row between tokens of JSON
constexpr uint32_t kMaxIntDigits = 16;
constexpr uint32_t kMaxFracDigits = 15;
constexpr uint8_t kMaxExpDigits = 3;

bool is_ws(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
bool is_hex(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Object phases
enum : uint8_t { kObjStart, kObjOpen, kObjKey, kObjColon, kObjValue, kObjComma };
// Array phases
enum : uint8_t { kArrStart, kArrOpen, kArrItem, kArrComma };
// Number phases
enum : uint8_t { kNumStart, kNumMinus, kNumInt, kNumZero, kNumDot, kNumFrac, kNumE, kNumESign, kNumExp };
// Repeat phases
enum : uint8_t { kRepItem, kRepAfter, kRepNext, kRepSep };

using Real = long double;

// Whether [lo, hi] (values a number may still take) meets the node's bounds;
// integers: whether an integer in it does.
bool meets(const Node& n, Real lo, Real hi, bool integer) {
  Real l = lo, h = hi;
  if (n.minimum) l = std::max(l, static_cast<Real>(*n.minimum));
  if (n.maximum) h = std::min(h, static_cast<Real>(*n.maximum));
  if (integer) {
    Real il = std::ceil(l), ih = std::floor(h);
    if (n.minimum && n.exclusive_minimum && il == static_cast<Real>(*n.minimum)) il += 1;
    if (n.maximum && n.exclusive_maximum && ih == static_cast<Real>(*n.maximum)) ih -= 1;
    return il <= ih && il <= std::floor(hi) && ih >= std::ceil(lo);
  }
  if (l < h) return true;
  if (l > h) return false;
  // one point: allowed unless an exclusive bound is that point
  if (n.minimum && n.exclusive_minimum && l == static_cast<Real>(*n.minimum)) return false;
  if (n.maximum && n.exclusive_maximum && l == static_cast<Real>(*n.maximum)) return false;
  return true;
}

bool in_bounds(const Node& n, Real v) {
  if (n.minimum && (n.exclusive_minimum ? !(v > *n.minimum) : !(v >= *n.minimum))) return false;
  if (n.maximum && (n.exclusive_maximum ? !(v < *n.maximum) : !(v <= *n.maximum))) return false;
  return true;
}

// Powers of ten by table: std::pow on long double costs more than the whole walk of a digit.
Real pow10(int k) {
  static const auto table = [] {
    std::array<Real, 40> t{};
    t[0] = 1;
    for (std::size_t i = 1; i < t.size(); ++i) t[i] = t[i - 1] * 10;
    return t;
  }();
  return table[static_cast<std::size_t>(std::clamp(k, 0, 39))];
}

// The values a number may still reach from its frame, as intervals: tested
// one by one (more integer digits each), stopping at the first that meets the bounds.
bool reachable(const Node& n, const Frame& f) {
  if (!n.minimum && !n.maximum) return true;
  const bool integer = n.kind == NodeKind::kInteger;
  const bool neg = f.esc != 0;
  auto test = [&](Real lo, Real hi) { return neg ? meets(n, -hi, -lo, integer) : meets(n, lo, hi, integer); };
  const Real frac_room = integer ? 0 : 1;
  switch (f.phase) {
    case kNumMinus: return test(0, pow10(kMaxIntDigits));
    case kNumZero: return test(0, frac_room);
    case kNumInt: {
      const Real a = static_cast<Real>(f.a);
      if (test(a, a + frac_room)) return true;
      for (uint32_t j = 1; f.count + j <= kMaxIntDigits; ++j)
        if (test(a * pow10(static_cast<int>(j)), (a + 1) * pow10(static_cast<int>(j)))) return true;
      return false;
    }
    case kNumDot: return test(static_cast<Real>(f.a), static_cast<Real>(f.a) + 1);
    case kNumFrac: {
      const Real scale = pow10(f.extra);
      const Real v = static_cast<Real>(f.a) + static_cast<Real>(f.b) / scale;
      return test(v, v + 1 / scale);
    }
    default: return true;
  }
}

Frame fresh(uint32_t node, uint8_t role = 0) {
  Frame f{};
  f.node = node;
  f.role = role;
  return f;
}

Real number_value(const Frame& f) {
  Real v = static_cast<Real>(f.a) + (f.extra > 0 ? static_cast<Real>(f.b) / pow10(f.extra) : 0);
  return f.esc ? -v : v;
}

}  // namespace

void Matcher::load(const State& s, int t, Stack& st) {
  const uint32_t from = t ? s.ends[static_cast<std::size_t>(t - 1)] : 0, to = s.ends[static_cast<std::size_t>(t)];
  st.n = static_cast<int>(to - from);
  if (st.n > 0) std::memcpy(st.f, s.frames.data() + from, sizeof(Frame) * static_cast<std::size_t>(st.n));
}

void Matcher::emit(const Stack& st, State& out) const {
  // the same stack twice (two choices that met again) is kept once
  const uint32_t n = static_cast<uint32_t>(st.n);
  for (int t = 0; t < out.threads(); ++t) {
    const uint32_t from = t ? out.ends[static_cast<std::size_t>(t - 1)] : 0, to = out.ends[static_cast<std::size_t>(t)];
    if (to - from == n && std::equal(st.f, st.f + n, out.frames.begin() + from)) return;
  }
  if (out.threads() >= kMaxThreads) return;
  out.frames.insert(out.frames.end(), st.f, st.f + n);
  out.ends.push_back(static_cast<uint32_t>(out.frames.size()));
}

void Matcher::start(State& s) const {
  s.clear();
  Stack st;
  push(st, g_.root);
  emit(st, s);
}

bool Matcher::push(Stack& st, uint32_t node) const {
  if (st.n >= kMaxDepth) return false;
  st.f[st.n++] = fresh(node);
  return true;
}

void Matcher::complete_top(Stack& st) const {
  for (;;) {
    const Frame done = st.f[--st.n];
    if (st.n == 0) return;
    Frame& p = st.f[st.n - 1];
    const Node& pn = g_.nodes[p.node];
    p.ws = 0;
    switch (pn.kind) {
      case NodeKind::kObject:
        if (done.role == kKey) {
          p.extra = done.extra;
          if (done.extra >= 0) p.a |= uint64_t{1} << done.extra;
          p.phase = kObjKey;
        } else {
          p.phase = kObjValue;
        }
        return;
      case NodeKind::kArray:
        ++p.count;
        p.phase = kArrItem;
        return;
      case NodeKind::kSequence:
        if (++p.count < pn.children.size()) return;
        continue;  // the sequence is done too
      case NodeKind::kRepeat:
        if (p.phase == kRepSep) {
          p.phase = kRepNext;
        } else {
          ++p.count;
          p.phase = kRepAfter;
        }
        return;
      default: return;  // no other node has children on the stack
    }
  }
}

bool Matcher::lazily_done(const Frame& f) const {
  const Node& n = g_.nodes[f.node];
  if (f.role != kValue) return false;
  if (n.kind == NodeKind::kNumber || n.kind == NodeKind::kInteger) {
    const bool end = f.phase == kNumInt || f.phase == kNumZero || f.phase == kNumFrac || f.phase == kNumExp;
    return end && (f.phase == kNumExp || in_bounds(n, number_value(f)));
  }
  if (n.kind == NodeKind::kRepeat) return f.phase == kRepAfter && static_cast<int64_t>(f.count) >= n.min_items;
  return false;
}

namespace {

// A byte of a JSON string's content (not its closing quote), for values and keys alike.
enum class StringByte { kBad, kContinues, kStarts };  // kContinues: of an escape or a UTF-8 sequence
StringByte string_byte(Frame& f, uint8_t c) {
  if (f.esc == 1) {
    if (c == 'u') f.esc = 2;
    else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') f.esc = 0;
    else return StringByte::kBad;
    return StringByte::kContinues;
  }
  if (f.esc >= 2) {
    if (!is_hex(c)) return StringByte::kBad;
    f.esc = f.esc == 5 ? 0 : f.esc + 1;
    return StringByte::kContinues;
  }
  if (f.ws) {  // a UTF-8 sequence's continuation
    if ((c & 0xC0) != 0x80) return StringByte::kBad;
    --f.ws;
    return StringByte::kContinues;
  }
  if (c < 0x20) return StringByte::kBad;
  if (c == '\\') {
    f.esc = 1;
  } else if (c >= 0x80) {
    if (c >= 0xC2 && c <= 0xDF) f.ws = 1;
    else if (c >= 0xE0 && c <= 0xEF) f.ws = 2;
    else if (c >= 0xF0 && c <= 0xF4) f.ws = 3;
    else return StringByte::kBad;
  }
  return StringByte::kStarts;
}

}  // namespace

Matcher::Act Matcher::string(Frame& f, const Node& n, uint8_t c) const {
  if (f.phase == 0) {
    if (c != '"') return Act::kReject;
    f.phase = 1;
    return Act::kTaken;
  }
  if (f.esc == 0 && f.ws == 0) {  // a new character, or the end
    if (c == '"') {
      if (static_cast<int64_t>(f.count) < n.min_length) return Act::kReject;
      if (n.regex >= 0 && !g_.regexes[static_cast<std::size_t>(n.regex)].accepting(f.extra)) return Act::kReject;
      return Act::kTakenDone;
    }
    if (static_cast<int64_t>(f.count) >= n.max_length) return Act::kReject;
    if (n.regex >= 0) {  // printable ASCII, no escapes
      const int32_t t = g_.regexes[static_cast<std::size_t>(n.regex)].next(f.extra, c);
      if (t < 0 || c == '\\') return Act::kReject;
      f.extra = t;
    }
  }
  switch (string_byte(f, c)) {
    case StringByte::kBad: return Act::kReject;
    case StringByte::kContinues: return Act::kTaken;
    case StringByte::kStarts: break;
  }
  ++f.count;
  return Act::kTaken;
}

Matcher::Act Matcher::key(Frame& f, const Node& n, uint8_t c) const {
  if (f.phase == 0) {
    if (c != '"') return Act::kReject;
    f.phase = 1;
    return Act::kTaken;
  }
  const bool free = n.additional >= 0;
  const bool plain = f.esc == 0 && f.ws == 0;
  if (c == '"' && plain) {
    uint64_t exact = 0, seen_exact = 0;
    for (uint64_t m = f.a; m; m &= m - 1) {
      const int i = std::countr_zero(m);
      if (n.properties[static_cast<std::size_t>(i)].name.size() == f.count) exact |= uint64_t{1} << i;
    }
    for (uint64_t m = f.b; m; m &= m - 1) {
      const int i = std::countr_zero(m);
      if (n.properties[static_cast<std::size_t>(i)].name.size() == f.count) seen_exact |= uint64_t{1} << i;
    }
    if (exact) {
      f.extra = std::countr_zero(exact);
      return Act::kTakenDone;
    }
    if (free && !seen_exact) {
      f.extra = -1;
      return Act::kTakenDone;
    }
    return Act::kReject;
  }
  if (string_byte(f, c) == StringByte::kBad) return Act::kReject;
  auto narrow = [&](uint64_t m) {
    uint64_t out = 0;
    for (; m; m &= m - 1) {
      const int i = std::countr_zero(m);
      const std::string& name = n.properties[static_cast<std::size_t>(i)].name;
      if (name.size() > f.count && static_cast<uint8_t>(name[f.count]) == c) out |= uint64_t{1} << i;
    }
    return out;
  };
  f.a = narrow(f.a);
  f.b = narrow(f.b);
  if (!f.a && !free) return Act::kReject;
  if (++f.count > kMaxFreeKeyBytes && !f.a) return Act::kReject;
  return Act::kTaken;
}

Matcher::Act Matcher::whitespace(Frame& f) {
  if (f.ws >= kMaxWs) return Act::kReject;
  ++f.ws;
  return Act::kTaken;
}

Matcher::Act Matcher::object(Stack& st, Frame& f, const Node& n, uint8_t c) const {
  if (f.phase != kObjStart && is_ws(c)) return whitespace(f);
  const uint64_t required = n.required;
  const uint64_t all = n.properties.size() == 64 ? ~uint64_t{0} : (uint64_t{1} << n.properties.size()) - 1;
  const uint64_t unseen = all & ~f.a;
  auto open_key = [&] {
    if (!unseen && n.additional < 0) return Act::kReject;
    if (st.n >= kMaxDepth) return Act::kReject;
    Frame k = fresh(f.node, kKey);
    k.a = unseen;
    k.b = f.a;
    st.f[st.n++] = k;
    return Act::kAgain;
  };
  switch (f.phase) {
    case kObjStart:
      if (c != '{') return Act::kReject;
      f.phase = kObjOpen;
      return Act::kTaken;
    case kObjOpen:
      if (c == '}') return required ? Act::kReject : Act::kTakenDone;
      if (c == '"') return open_key();
      return Act::kReject;
    case kObjComma:
      if (c == '"') return open_key();
      return Act::kReject;
    case kObjKey:
      if (c != ':') return Act::kReject;
      f.phase = kObjColon;
      f.ws = 0;
      return Act::kTaken;
    case kObjColon: {
      const uint32_t v = f.extra >= 0 ? n.properties[static_cast<std::size_t>(f.extra)].value : static_cast<uint32_t>(n.additional);
      return push(st, v) ? Act::kAgain : Act::kReject;
    }
    case kObjValue:
      if (c == ',') {
        if (!unseen && n.additional < 0) return Act::kReject;
        f.phase = kObjComma;
        f.ws = 0;
        return Act::kTaken;
      }
      if (c == '}') return (required & ~f.a) ? Act::kReject : Act::kTakenDone;
      return Act::kReject;
  }
  return Act::kReject;
}

Matcher::Act Matcher::array(Stack& st, Frame& f, const Node& n, uint8_t c) const {
  if (f.phase != kArrStart && is_ws(c)) return whitespace(f);
  switch (f.phase) {
    case kArrStart:
      if (c != '[') return Act::kReject;
      f.phase = kArrOpen;
      return Act::kTaken;
    case kArrOpen:
      if (c == ']') return n.min_items == 0 ? Act::kTakenDone : Act::kReject;
      if (n.max_items == 0) return Act::kReject;
      return push(st, n.children[0]) ? Act::kAgain : Act::kReject;
    case kArrItem:
      if (c == ',' && static_cast<int64_t>(f.count) < n.max_items) {
        f.phase = kArrComma;
        f.ws = 0;
        return Act::kTaken;
      }
      if (c == ']' && static_cast<int64_t>(f.count) >= n.min_items) return Act::kTakenDone;
      return Act::kReject;
    case kArrComma: return push(st, n.children[0]) ? Act::kAgain : Act::kReject;
  }
  return Act::kReject;
}

Matcher::Act Matcher::number(Frame& f, const Node& n, uint8_t c) const {
  const bool integer = n.kind == NodeKind::kInteger;
  const bool bounded = n.minimum || n.maximum;
  auto check = [&] { return reachable(n, f) ? Act::kTaken : Act::kReject; };
  auto end_or_reject = [&] { return lazily_done(f) ? Act::kDoneAgain : Act::kReject; };
  const uint64_t d = static_cast<uint64_t>(c - '0');
  switch (f.phase) {
    case kNumStart:
      if (c == '-') {
        f.esc = 1;
        f.phase = kNumMinus;
        return check();
      }
      [[fallthrough]];
    case kNumMinus:
      if (!is_digit(c)) return Act::kReject;
      f.a = d;
      f.count = 1;
      f.phase = c == '0' ? kNumZero : kNumInt;
      return check();
    case kNumInt:
      if (is_digit(c)) {
        if (f.count >= kMaxIntDigits) return Act::kReject;
        f.a = f.a * 10 + d;
        ++f.count;
        return check();
      }
      [[fallthrough]];
    case kNumZero:
      if (c == '.' && !integer) {
        f.phase = kNumDot;
        return check();
      }
      if ((c == 'e' || c == 'E') && !integer && !bounded) {
        f.phase = kNumE;
        return Act::kTaken;
      }
      return end_or_reject();
    case kNumDot:
      if (!is_digit(c)) return Act::kReject;
      f.b = d;
      f.extra = 1;
      f.phase = kNumFrac;
      return check();
    case kNumFrac:
      if (is_digit(c)) {
        if (f.extra >= static_cast<int32_t>(kMaxFracDigits)) return Act::kReject;
        f.b = f.b * 10 + d;
        ++f.extra;
        return check();
      }
      if ((c == 'e' || c == 'E') && !bounded) {
        f.phase = kNumE;
        return Act::kTaken;
      }
      return end_or_reject();
    case kNumE:
      if (c == '+' || c == '-') {
        f.phase = kNumESign;
        return Act::kTaken;
      }
      [[fallthrough]];
    case kNumESign:
      if (!is_digit(c)) return Act::kReject;
      f.phase = kNumExp;
      f.ws = 1;
      return Act::kTaken;
    case kNumExp:
      if (is_digit(c)) {
        if (f.ws >= kMaxExpDigits) return Act::kReject;
        ++f.ws;
        return Act::kTaken;
      }
      return Act::kDoneAgain;
  }
  return Act::kReject;
}

Matcher::Act Matcher::repeat(Stack& st, Frame& f, const Node& n, uint8_t c, State& out) const {
  switch (f.phase) {
    case kRepItem:
    case kRepNext: return push(st, n.children[0]) ? Act::kAgain : Act::kReject;
    case kRepAfter: {
      const bool more = static_cast<int64_t>(f.count) < n.max_items;
      const bool end = static_cast<int64_t>(f.count) >= n.min_items;
      if (end && more) {  // both ways: the end in a copy
        Stack done = st;
        complete_top(done);
        feed(done, c, out);
      } else if (end) {
        return Act::kDoneAgain;
      }
      if (!more) return end ? Act::kForked : Act::kReject;
      if (n.children.size() > 1) {
        f.phase = kRepSep;
        if (!push(st, n.children[1])) return Act::kForked;
      } else {
        f.phase = kRepNext;
      }
      feed(st, c, out);
      return Act::kForked;
    }
    default: return Act::kReject;
  }
}

void Matcher::feed(Stack& st, uint8_t c, State& out) const {
  for (int guard = 0; guard < 4 * kMaxDepth; ++guard) {
    if (st.n == 0) return;  // already whole: nothing more fits
    Frame& f = st.f[st.n - 1];
    const Node& n = g_.nodes[f.node];
    Act act = Act::kReject;
    if (f.role == kKey) {
      act = key(f, n, c);
    } else {
      switch (n.kind) {
        case NodeKind::kAnyValue: {
          const auto& any = g_.any;
          uint32_t to = 0;
          if (c == '{') to = any.object;
          else if (c == '[') to = any.array;
          else if (c == '"') to = any.string;
          else if (c == '-' || is_digit(c)) to = any.number;
          else if (c == 't') to = any.t;
          else if (c == 'f') to = any.f;
          else if (c == 'n') to = any.null;
          else return;
          f = fresh(to);
          act = Act::kAgain;
          break;
        }
        case NodeKind::kLiteral:
          if (static_cast<uint8_t>(n.literal[f.count]) != c) return;
          act = ++f.count == n.literal.size() ? Act::kTakenDone : Act::kTaken;
          break;
        case NodeKind::kAlternatives:
          for (uint32_t child : n.children) {
            Stack copy = st;
            copy.f[copy.n - 1] = fresh(child);
            feed(copy, c, out);
          }
          return;
        case NodeKind::kSequence:
          act = push(st, n.children[f.count]) ? Act::kAgain : Act::kReject;
          break;
        case NodeKind::kRepeat: act = repeat(st, f, n, c, out); break;
        case NodeKind::kObject: act = object(st, f, n, c); break;
        case NodeKind::kArray: act = array(st, f, n, c); break;
        case NodeKind::kString: act = string(f, n, c); break;
        case NodeKind::kNumber:
        case NodeKind::kInteger: act = number(f, n, c); break;
      }
    }
    switch (act) {
      case Act::kReject:
      case Act::kForked: return;
      case Act::kTaken: emit(st, out); return;
      case Act::kTakenDone:
        complete_top(st);
        emit(st, out);
        return;
      case Act::kAgain: continue;
      case Act::kDoneAgain: complete_top(st); continue;
    }
  }
}

bool Matcher::advance(const State& from, uint8_t byte, State& to) const {
  to.clear();
  Stack st;
  for (int t = 0; t < from.threads(); ++t) {
    load(from, t, st);
    feed(st, byte, to);
  }
  return !to.empty();
}

bool Matcher::accepting(const State& s) const {
  Stack st;
  for (int t = 0; t < s.threads(); ++t) {
    load(s, t, st);
    while (st.n > 0 && lazily_done(st.f[st.n - 1])) complete_top(st);
    if (st.n == 0) return true;
  }
  return false;
}

int64_t Matcher::rest(const Stack& st, int i) const {
  const Frame& f = st.f[i];
  const Node& n = g_.nodes[f.node];
  const bool child = i < st.n - 1;
  const auto& mb = g_.min_bytes;
  auto sat = [](int64_t a, int64_t b) { return std::min(kNoValue, a + b); };
  if (f.role == kKey) {
    // the key, its colon and value, and what the object then still needs
    const Frame& obj = st.f[i - 1];
    const uint64_t required = n.required;
    auto after = [&](uint64_t seen) {
      int64_t c = 1;
      for (uint64_t m = required & ~seen; m; m &= m - 1) {
        const auto& p = n.properties[static_cast<std::size_t>(std::countr_zero(m))];
        c = sat(c, static_cast<int64_t>(p.name.size()) + 4 + mb[p.value]);
      }
      return c;
    };
    const int64_t pending = (f.esc == 1 ? 1 : f.esc >= 2 ? 6 - f.esc : 0) + f.ws;
    int64_t best = kNoValue;
    if (f.phase == 0) {
      for (uint64_t m = f.a; m; m &= m - 1) {
        const int k = std::countr_zero(m);
        const auto& p = n.properties[static_cast<std::size_t>(k)];
        best = std::min(best, sat(static_cast<int64_t>(p.name.size()) + 3 + mb[p.value], after(obj.a | uint64_t{1} << k)));
      }
      if (n.additional >= 0) best = std::min(best, sat(3 + mb[static_cast<std::size_t>(n.additional)], after(obj.a)));
      return best;
    }
    for (uint64_t m = f.a; m; m &= m - 1) {
      const int k = std::countr_zero(m);
      const auto& p = n.properties[static_cast<std::size_t>(k)];
      best = std::min(best, sat(static_cast<int64_t>(p.name.size() - f.count) + 2 + mb[p.value], after(obj.a | uint64_t{1} << k)));
    }
    if (n.additional >= 0) best = std::min(best, sat(pending + 2 + mb[static_cast<std::size_t>(n.additional)], after(obj.a)));
    return best;
  }
  switch (n.kind) {
    case NodeKind::kAnyValue:
    case NodeKind::kAlternatives: return mb[f.node];
    case NodeKind::kLiteral: return g_.cost_of(std::string_view(n.literal).substr(f.count));
    case NodeKind::kString: {
      if (f.phase == 0) return mb[f.node];
      const int64_t pending = (f.esc == 1 ? 1 : f.esc >= 2 ? 6 - f.esc : 0) + f.ws;
      int64_t need = std::max<int64_t>(0, n.min_length - static_cast<int64_t>(f.count));
      if (n.regex >= 0) need = std::max<int64_t>(need, g_.regexes[static_cast<std::size_t>(n.regex)].distance(f.extra));
      return pending + need + 1;
    }
    case NodeKind::kNumber:
    case NodeKind::kInteger: {
      if (f.phase == kNumStart) return mb[f.node];
      if (lazily_done(f)) return 0;
      if (f.phase == kNumInt || f.phase == kNumMinus) {
        // the fewest more digits that can end in bounds
        for (int j = 1; j <= static_cast<int>(kMaxIntDigits); ++j) {
          const Real lo = static_cast<Real>(f.phase == kNumMinus ? 0 : f.a) * pow10(j);
          const Real hi = lo + pow10(j) - 1;
          if (f.esc ? meets(n, -hi, -lo, true) : meets(n, lo, hi, true)) return j;
        }
        return 2;
      }
      return 1;
    }
    case NodeKind::kObject: {
      const uint64_t required = n.required;
      auto props = [&](uint64_t m) {
        int64_t c = 0;
        for (; m; m &= m - 1) {
          const auto& p = n.properties[static_cast<std::size_t>(std::countr_zero(m))];
          c = sat(c, static_cast<int64_t>(p.name.size()) + 4 + mb[p.value]);  // with a comma
        }
        return c;
      };
      const uint64_t need = required & ~f.a;
      switch (f.phase) {
        case kObjStart: return mb[f.node];
        case kObjOpen: return child ? 0 : (need ? props(need) : 1);  // the first needs no comma: props() counted one too many, '}' one
        case kObjComma: {
          if (child) return 0;
          if (need) return props(need);
          int64_t best = n.additional >= 0 ? sat(4, mb[static_cast<std::size_t>(n.additional)]) : kNoValue;
          for (std::size_t k = 0; k < n.properties.size(); ++k)
            if (!(f.a >> k & 1)) best = std::min(best, sat(static_cast<int64_t>(n.properties[k].name.size()) + 4, mb[n.properties[k].value]));
          return best;
        }
        case kObjKey:
        case kObjColon: {
          const uint32_t v = f.extra >= 0 ? n.properties[static_cast<std::size_t>(f.extra)].value : static_cast<uint32_t>(n.additional);
          const int64_t value = child ? 0 : mb[v];
          return sat((f.phase == kObjKey ? 1 : 0) + value, sat(props(need), 1));
        }
        case kObjValue: return sat(props(need), 1);
      }
      return 1;
    }
    case NodeKind::kArray: {
      const int64_t item = mb[n.children[0]];
      auto after = [&](int64_t done) { return sat(std::min(kNoValue, std::max<int64_t>(0, n.min_items - done) * sat(item, 1)), 1); };
      switch (f.phase) {
        case kArrStart: return mb[f.node];
        case kArrOpen:
          if (child) return after(1);
          return n.min_items == 0 ? 1 : sat(sat(item, -1), after(1) + 1);
        case kArrItem: return after(f.count);
        case kArrComma: return child ? after(f.count + 1) : sat(item, after(f.count + 1));
      }
      return 1;
    }
    case NodeKind::kSequence: {
      int64_t c = 0;
      for (std::size_t k = f.count + (child ? 1 : 0); k < n.children.size(); ++k) c = sat(c, mb[n.children[k]]);
      return c;
    }
    case NodeKind::kRepeat: {
      const int64_t item = mb[n.children[0]];
      const int64_t sep = n.children.size() > 1 ? mb[n.children[1]] : 0;
      auto after = [&](int64_t done) { return std::min(kNoValue, std::max<int64_t>(0, n.min_items - done) * sat(item, sep)); };
      switch (f.phase) {
        case kRepItem:
        case kRepNext: return child ? after(f.count + 1) : sat(item, after(f.count + 1));
        case kRepAfter: return after(f.count);
        case kRepSep: return sat(item, after(f.count + 1));
      }
      return 0;
    }
  }
  return 0;
}

int64_t Matcher::thread_min_close(const Stack& st) const {
  int64_t c = 0;
  for (int i = 0; i < st.n; ++i) c = std::min(kNoValue, c + rest(st, i));
  return c;
}

int64_t Matcher::min_close(const State& s) const {
  int64_t best = kNoValue;
  Stack st;
  for (int t = 0; t < s.threads(); ++t) {
    load(s, t, st);
    best = std::min(best, thread_min_close(st));
  }
  return best;
}

}  // namespace dsv3::grammar
