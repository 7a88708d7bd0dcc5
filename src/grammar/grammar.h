// A grammar over bytes, as JSON schemas and tool-call formats compile to:
// JSON values (objects, arrays, strings, numbers) with the bounds a schema
// sets, literals, choices, sequences and repeats. Nodes refer to each other
// by index, so recursive schemas ($ref) are cycles, not copies.
#pragma once
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/byte_regex.h"

namespace dsv3::grammar {

enum class NodeKind : uint8_t {
  kAnyValue,      // any JSON value (json_object, {} and true schemas)
  kObject,
  kArray,
  kString,
  kNumber,        // JSON number
  kInteger,       // JSON number without fraction or exponent
  kLiteral,       // these exact bytes (const, enum members, true/false/null, markers)
  kAlternatives,  // one of the children (anyOf, enum, type lists)
  kSequence,      // the children one after another
  kRepeat,        // child, (separator, child)*: min..max times
};

constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();

struct Property {
  std::string name;
  uint32_t value = 0;  // node
  bool required = false;
};

struct Node {
  NodeKind kind = NodeKind::kAnyValue;
  std::string literal;             // kLiteral: its bytes (not empty)
  std::vector<uint32_t> children;  // kAlternatives, kSequence; kRepeat: {child} or {child, separator}
  // kObject
  std::vector<Property> properties;  // at most 64
  int64_t additional = -1;           // node of other properties' values; -1: none allowed
  uint64_t required = 0;             // bit i: properties[i] is required (set by Grammar::finish)
  // kArray (children[0] the items) and kRepeat
  int64_t min_items = 0, max_items = kUnbounded;
  // kString: in code points
  int64_t min_length = 0, max_length = kUnbounded;
  int32_t regex = -1;  // index into Grammar::regexes: the string's bytes must match it
  // kNumber / kInteger
  std::optional<double> minimum, maximum;
  bool exclusive_minimum = false, exclusive_maximum = false;
};

struct Grammar {
  std::vector<Node> nodes;
  std::vector<ByteRegex> regexes;
  uint32_t root = 0;
  // What the rest of a literal costs to write; unset: a byte each. With the
  // vocabulary's greedy token count, a marker such as "<｜tool▁call▁end｜>"
  // costs the one token it is, and closing in time (min_close) counts tokens.
  std::function<int64_t(std::string_view)> literal_cost;
  int64_t cost_of(std::string_view literal) const {
    return literal_cost ? literal_cost(literal) : static_cast<int64_t>(literal.size());
  }
  // Filled by finish(): the fewest bytes (literals: their cost) a value of each node takes.
  std::vector<int64_t> min_bytes;
  int64_t max_min_bytes = 0;  // the largest of them (finite ones)

  uint32_t add(Node n) {
    nodes.push_back(std::move(n));
    return static_cast<uint32_t>(nodes.size() - 1);
  }
  uint32_t literal(std::string bytes);
  // Nodes every JSON grammar shares for "any value" (made on first use).
  uint32_t any_value();
  // Computes min_bytes (a fixed point: recursion through $ref). Call once,
  // after the last node is added.
  void finish();

  // Built by any_value(): what an any-value becomes on its first byte.
  struct AnyNodes {
    uint32_t value = 0, object = 0, array = 0, string = 0, number = 0, t = 0, f = 0, null = 0;
    bool made = false;
  } any;
};

constexpr int64_t kNoValue = std::numeric_limits<int64_t>::max() / 4;  // min_bytes of an unsatisfiable node

}  // namespace dsv3::grammar
