// A grammar run over bytes: a set of threads (one unless a choice is still
// open), each a stack of frames, one frame per value or rule being matched.
// advance() takes one byte; accepting() says whether the text so far is a
// whole match; min_close() is the fewest bytes that would make it one, which
// lets a generation close its JSON before its token budget runs out.
#pragma once
#include <cstdint>
#include <vector>

#include "grammar/grammar.h"

namespace dsv3::grammar {

// No default member values: a Stack of them is made per byte and needs no
// clearing; Frame{} is all zero.
struct Frame {
  uint32_t node;
  uint8_t phase;
  uint8_t ws;    // whitespace run; in strings the UTF-8 bytes still due; in numbers the exponent digits
  uint8_t role;  // 0: a value; 1: an object's key (node is the object)
  uint8_t esc;   // strings: escape state; numbers: negative
  uint32_t count;  // strings: code points; arrays, repeats: items; sequences: the child; literals, numbers: bytes, digits
  int32_t extra;   // objects: the property being read (-1: another); strings: regex state; numbers: fraction digits
  uint64_t a, b;   // objects: properties seen; keys: candidates, seen candidates; numbers: integer and fraction digits
  bool operator==(const Frame&) const = default;
};

constexpr int kMaxDepth = 32;     // frames per thread: nesting beyond is refused
constexpr int kMaxThreads = 512;  // open choices at once (an enum's members)
constexpr uint32_t kMaxFreeKeyBytes = 256;  // a key that is none of the listed properties

// Threads of frame stacks, stored flat; reusing one keeps its capacity.
struct State {
  std::vector<Frame> frames;
  std::vector<uint32_t> ends;  // thread i is frames [ends[i-1], ends[i])
  bool empty() const { return ends.empty(); }
  void clear() {
    frames.clear();
    ends.clear();
  }
  int threads() const { return static_cast<int>(ends.size()); }
};

class Matcher {
 public:
  explicit Matcher(const Grammar& g) : g_(g) {}
  const Grammar& grammar() const { return g_; }

  void start(State& s) const;
  // to = from after byte; false when no thread survives (to is then empty).
  bool advance(const State& from, uint8_t byte, State& to) const;
  bool accepting(const State& s) const;
  int64_t min_close(const State& s) const;

  // Frames as a stack (a thread being worked on).
  struct Stack {
    int n = 0;
    Frame f[kMaxDepth];
  };

 private:
  enum class Act { kReject, kTaken, kTakenDone, kAgain, kDoneAgain, kForked };
  void feed(Stack& st, uint8_t c, State& out) const;
  Act object(Stack& st, Frame& f, const Node& n, uint8_t c) const;
  Act key(Frame& f, const Node& n, uint8_t c) const;
  Act array(Stack& st, Frame& f, const Node& n, uint8_t c) const;
  Act string(Frame& f, const Node& n, uint8_t c) const;
  Act number(Frame& f, const Node& n, uint8_t c) const;
  Act repeat(Stack& st, Frame& f, const Node& n, uint8_t c, State& out) const;
  static Act whitespace(Frame& f);  // between a container's tokens: a bounded run
  bool push(Stack& st, uint32_t node) const;
  void complete_top(Stack& st) const;
  bool lazily_done(const Frame& f) const;
  int64_t rest(const Stack& st, int i) const;
  int64_t thread_min_close(const Stack& st) const;
  void emit(const Stack& st, State& out) const;
  static void load(const State& s, int thread, Stack& st);

  const Grammar& g_;
};

}  // namespace dsv3::grammar
