#include "grammar/grammar.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace dsv3::grammar {

uint32_t Grammar::literal(std::string bytes) {
  Node n;
  n.kind = NodeKind::kLiteral;
  n.literal = std::move(bytes);
  return add(std::move(n));
}

uint32_t Grammar::any_value() {
  if (any.made) return any.value;
  any.made = true;
  Node v;
  v.kind = NodeKind::kAnyValue;
  any.value = add(v);
  Node o;
  o.kind = NodeKind::kObject;
  o.additional = any.value;
  any.object = add(o);
  Node a;
  a.kind = NodeKind::kArray;
  a.children = {any.value};
  any.array = add(a);
  Node s;
  s.kind = NodeKind::kString;
  any.string = add(s);
  Node num;
  num.kind = NodeKind::kNumber;
  any.number = add(num);
  any.t = literal("true");
  any.f = literal("false");
  any.null = literal("null");
  return any.value;
}

namespace {

int64_t add_sat(int64_t a, int64_t b) { return std::min(kNoValue, a + b); }
int64_t mul_sat(int64_t a, int64_t n) { return n == 0 ? 0 : (a >= kNoValue / std::max<int64_t>(n, 1) ? kNoValue : a * n); }

bool in_range(const Node& n, double v) {
  if (n.minimum && (n.exclusive_minimum ? !(v > *n.minimum) : !(v >= *n.minimum))) return false;
  if (n.maximum && (n.exclusive_maximum ? !(v < *n.maximum) : !(v <= *n.maximum))) return false;
  return true;
}

// The shortest number text within the node's bounds: an integer if one fits,
// else a decimal with up to 6 digits after the point.
int64_t number_min_bytes(const Node& n) {
  if (in_range(n, 0.0)) return 1;
  auto digits = [](double m) { return static_cast<int64_t>(std::to_string(static_cast<long long>(m)).size()); };
  if (n.minimum && *n.minimum > 0) {
    double c = std::ceil(*n.minimum);
    if (!in_range(n, c)) c += 1;
    if (c < 1e15 && in_range(n, c)) return digits(c);
  }
  if (n.maximum && *n.maximum < 0) {
    double c = std::floor(*n.maximum);
    if (!in_range(n, c)) c -= 1;
    if (c > -1e15 && in_range(n, c)) return 1 + digits(-c);
  }
  if (n.kind == NodeKind::kInteger) return kNoValue;
  for (int d = 1; d <= 6; ++d) {
    const double step = std::pow(10.0, -d);
    const double lo = n.minimum ? *n.minimum : -1e15;
    double v = std::ceil(lo / step) * step;
    for (int k = 0; k < 3 && !in_range(n, v); ++k) v += step;
    if (in_range(n, v)) return static_cast<int64_t>((v < 0 ? 1 : 0) + digits(std::fabs(std::trunc(v))) + 1 + d);
  }
  return kNoValue;
}

}  // namespace

void Grammar::finish() {
  for (Node& n : nodes) {
    n.required = 0;
    for (std::size_t i = 0; i < n.properties.size(); ++i)
      if (n.properties[i].required) n.required |= uint64_t{1} << i;
  }
  min_bytes.assign(nodes.size(), kNoValue);
  for (int round = 0; round < 1000; ++round) {
    bool changed = false;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      auto mb = [&](uint32_t c) { return min_bytes[c]; };
      int64_t v = kNoValue;
      switch (n.kind) {
        case NodeKind::kAnyValue: v = 1; break;
        case NodeKind::kObject: {
          v = 2;
          int64_t k = 0;
          for (const auto& p : n.properties)
            if (p.required) v = add_sat(v, add_sat(static_cast<int64_t>(p.name.size()) + 3 + (k++ ? 1 : 0), mb(p.value)));
          break;
        }
        case NodeKind::kArray:
          v = add_sat(2 + std::max<int64_t>(0, n.min_items - 1), mul_sat(mb(n.children[0]), n.min_items));
          break;
        case NodeKind::kString:
          v = 2 + std::max<int64_t>(n.min_length, n.regex >= 0 ? regexes[static_cast<std::size_t>(n.regex)].distance(0) : 0);
          break;
        case NodeKind::kNumber:
        case NodeKind::kInteger: v = number_min_bytes(n); break;
        case NodeKind::kLiteral: v = cost_of(n.literal); break;
        case NodeKind::kAlternatives:
          for (uint32_t c : n.children) v = std::min(v, mb(c));
          break;
        case NodeKind::kSequence:
          v = 0;
          for (uint32_t c : n.children) v = add_sat(v, mb(c));
          break;
        case NodeKind::kRepeat: {
          const int64_t sep = n.children.size() > 1 ? mb(n.children[1]) : 0;
          v = add_sat(mul_sat(mb(n.children[0]), n.min_items), mul_sat(sep, std::max<int64_t>(0, n.min_items - 1)));
          break;
        }
      }
      if (v < min_bytes[i]) {
        min_bytes[i] = v;
        changed = true;
      }
    }
    if (!changed) break;
  }
  max_min_bytes = 0;
  for (int64_t v : min_bytes)
    if (v < kNoValue) max_min_bytes = std::max(max_min_bytes, v);
}

}  // namespace dsv3::grammar
