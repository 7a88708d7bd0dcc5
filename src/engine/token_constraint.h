// What the next token may be, when something outside the engine decides
// (a grammar for JSON or tool calls): the engine asks before each draw and
// tells it the token drawn. The engine knows nothing of what it checks.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

namespace dsv3 {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets the bits (one per vocabulary id, all clear on entry) of the tokens
  // that may come next; never none. remaining: the tokens the completion may
  // still take, this one included. Returns false when any token may come
  // (the bits are then not looked at).
  virtual bool allowed(std::span<uint64_t> bits, int64_t remaining) = 0;
  // The token drawn joins the text.
  virtual void accept(int32_t token) = 0;
  // The text is whole and nothing may follow it: the answer ends here, as if
  // a stop token came (so a budget spent on the last token of a whole answer
  // is a stop, not a cut).
  virtual bool complete() const { return false; }
};

// Makes a job's constraint when it starts (each sample its own).
using ConstraintFactory = std::function<std::unique_ptr<TokenConstraint>()>;

}  // namespace dsv3
