// The parsed form of a template: expression and statement trees. Built once by
// the parser, then only read (renders may run concurrently).
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.h"

namespace dsv3::jinja {

struct Pos {
  int line = 1;
  int col = 1;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind : uint8_t {
  kLiteral,      // literal
  kName,         // name
  kList,         // args = items
  kTuple,        // args = items
  kDict,         // args = key0, value0, key1, value1, ...
  kAttr,         // args[0].name
  kSubscript,    // args[0][args[1]]
  kSlice,        // args[0][args[1]:args[2]:args[3]], missing parts are null
  kCall,         // args[0](args[1..], kwargs)
  kFilter,       // args[0] | name(args[1..], kwargs)
  kTest,         // args[0] is [not] name(args[1..], kwargs)
  kUnary,        // name in {"-", "+", "not"}, args[0]
  kBinary,       // args[0] name args[1]; name is an operator, "and" or "or"
  kCompare,      // args[0] ops[0] args[1] ops[1] args[2] ... (Python chaining)
  kCondition,    // args[1] if args[0] else args[2] (args[2] may be null)
  kPlaceholder,  // the body of a filter block / set block being filtered
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  Pos pos;
  std::string name;
  Value literal;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;  // `is not`
  int depth = 1;         // height of this tree, bounded by the parser
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind : uint8_t {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // branches (cond, body); else_body
  kFor,          // for targets in expr [if cond]: body; else_body
  kSet,          // set targets = expr | set ns.attr = expr | set name %}body{% endset
  kMacro,        // macro name(targets = defaults): body
  kFilterBlock,  // filter expr (a filter chain over kPlaceholder): body
  kWith,         // with targets = defaults: body
  kGeneration,   // generation: body (rendered as is)
  kBreak,
  kContinue,
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  Pos pos;
  std::string text;
  std::string name;                  // macro name; for kSet with attr_target: the attribute
  ExprPtr expr;                      // output / loop iterable / set value / filter chain
  ExprPtr cond;                      // inline loop filter
  std::vector<std::string> targets;  // loop variables, set names, macro parameters
  std::vector<ExprPtr> defaults;     // macro defaults (null when none), with values
  bool attr_target = false;          // set ns.attr: targets[0] is the namespace
  bool block_set = false;            // {% set x %}...{% endset %}; expr filters it if set
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
};

}  // namespace dsv3::jinja
