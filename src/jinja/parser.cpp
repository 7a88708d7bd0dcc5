#include "jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "jinja/filters.h"
#include "jinja/tests.h"
#include "jinja/lexer.h"

namespace dsv3::jinja {
namespace {

std::string describe(const Token& t) {
  switch (t.type) {
    case TokenType::kText:
      return "template text";
    case TokenType::kVarBegin:
      return "'{{'";
    case TokenType::kVarEnd:
      return "'}}'";
    case TokenType::kBlockBegin:
      return "'{%'";
    case TokenType::kBlockEnd:
      return "'%}'";
    case TokenType::kName:
      return "'" + t.text + "'";
    case TokenType::kString:
      return "a string";
    case TokenType::kInt:
    case TokenType::kFloat:
      return "a number";
    case TokenType::kOp:
      return "'" + t.text + "'";
    case TokenType::kEof:
      return "end of template";
  }
  return "token";
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const Limits& limits) : toks_(std::move(tokens)), limits_(limits) {}

  Result<Body> parse_template() { return parse_body({}, nullptr, "", Pos{}); }

 private:
  std::vector<Token> toks_;  // never empty: ends with kEof
  Limits limits_;
  size_t i_ = 0;
  int depth_ = 0;       // recursion of expressions and blocks
  int loop_depth_ = 0;  // for break/continue

  // Counts one level of parser recursion for the lifetime of a scope.
  struct Nest {
    explicit Nest(int& d) : d_(d) { ++d_; }
    ~Nest() { --d_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;
    int& d_;
  };

  const Token& cur() const { return toks_[i_]; }
  const Token& look() const { return toks_[std::min(i_ + 1, toks_.size() - 1)]; }
  void advance() {
    if (i_ + 1 < toks_.size()) ++i_;
  }
  bool is_op(std::string_view op) const { return cur().type == TokenType::kOp && cur().text == op; }
  bool is_name(std::string_view n) const { return cur().type == TokenType::kName && cur().text == n; }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    advance();
    return true;
  }
  bool skip_name(std::string_view n) {
    if (!is_name(n)) return false;
    advance();
    return true;
  }

  static Pos pos_of(const Token& t) { return Pos{t.line, t.col}; }
  // Error paths stay out of line so that they do not enlarge the frames of
  // the recursive descent.
  [[gnu::noinline, gnu::cold]] static Error fail_at(Pos p, std::string_view msg) {
    return make_error("jinja {}:{}: {}", p.line, p.col, msg);
  }
  [[gnu::noinline, gnu::cold]] Error fail(std::string_view msg) const { return fail_at(pos_of(cur()), msg); }
  [[gnu::noinline, gnu::cold]] Error unexpected(std::string_view wanted) const {
    return fail(fmt::format("expected {}, got {}", wanted, describe(cur())));
  }

  [[gnu::noinline, gnu::cold]] Error too_deep() const {
    return fail(fmt::format("template nested deeper than {} levels", limits_.max_nesting));
  }
  Status expect_op(std::string_view op) {
    if (!skip_op(op)) return unexpected(fmt::format("'{}'", op));
    return {};
  }
  Status expect_block_end() {
    if (cur().type != TokenType::kBlockEnd) return unexpected("end of tag '%}'");
    advance();
    return {};
  }
  Result<std::string> expect_name() {
    if (cur().type != TokenType::kName) return unexpected("a name");
    std::string name = cur().text;
    advance();
    return name;
  }

  static ExprPtr node(ExprKind kind, Pos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    return e;
  }
  // Records the tree height; left-associative chains (a+b+c+...) grow it
  // without recursion here, but evaluating them recurses. Bounding it by
  // max_nesting keeps every template that parses within the renderer's
  // recursion limit (2 * max_nesting) unless macros recurse.
  Result<ExprPtr> done(ExprPtr e) const {
    int d = 0;
    for (const auto& a : e->args) {
      if (a) d = std::max(d, a->depth);
    }
    for (const auto& [k, a] : e->kwargs) d = std::max(d, a->depth);
    e->depth = d + 1;
    if (e->depth > limits_.max_nesting) {
      return fail_at(e->pos, fmt::format("expression nested deeper than {} levels", limits_.max_nesting));
    }
    return e;
  }
  static StmtPtr stmt(StmtKind kind, Pos pos) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->pos = pos;
    return s;
  }

  // ---- statements -----------------------------------------------------------

  // Parses until one of `ends` opens a tag ({% endfor ...); consumes that
  // name and stores it in *which, leaving the rest of the tag to the caller.
  Result<Body> parse_body(std::initializer_list<std::string_view> ends, std::string* which,
                          std::string_view opener, Pos opened) {
    Nest nest(depth_);
    if (depth_ > limits_.max_nesting) return too_deep();
    Body body;
    for (;;) {
      const Token& t = cur();
      if (t.type == TokenType::kBlockBegin && look().type == TokenType::kName &&
          std::find(ends.begin(), ends.end(), look().text) != ends.end()) {
        *which = look().text;
        advance();
        advance();
        return body;
      }
      if (t.type == TokenType::kEof) {
        if (ends.size() != 0) return missing_end(opener, opened, *(ends.end() - 1));
        return body;
      }
      DSV3_ASSIGN_OR_RETURN(StmtPtr s, parse_item());
      body.push_back(std::move(s));
    }
  }

  [[gnu::noinline, gnu::cold]] Error missing_end(std::string_view opener, Pos opened,
                                                 std::string_view end) const {
    return fail(fmt::format("unexpected end of template: '{}' opened at {}:{} is missing '{}'", opener,
                            opened.line, opened.col, end));
  }

  // One piece of a body: text, {{ output }} or a {% statement %}.
  [[gnu::noinline]] Result<StmtPtr> parse_item() {
    const Token& t = cur();
    switch (t.type) {
      case TokenType::kText: {
        auto s = stmt(StmtKind::kText, pos_of(t));
        s->text = t.text;
        advance();
        return s;
      }
      case TokenType::kVarBegin: {
        auto s = stmt(StmtKind::kOutput, pos_of(t));
        advance();
        DSV3_ASSIGN_OR_RETURN(s->expr, parse_tuple(true, false));
        if (cur().type != TokenType::kVarEnd) return unexpected("'}}'");
        advance();
        return s;
      }
      case TokenType::kBlockBegin:
        advance();
        return parse_statement();
      default:
        return fail(fmt::format("unexpected {}", describe(t)));
    }
  }

  [[gnu::noinline]] Result<StmtPtr> parse_statement() {
    if (cur().type != TokenType::kName) return unexpected("a tag name after '{%'");
    const std::string name = cur().text;
    const Pos pos = pos_of(cur());
    advance();
    if (name == "if") return parse_if(pos);
    if (name == "for") return parse_for(pos);
    if (name == "set") return parse_set(pos);
    if (name == "macro") return parse_macro(pos);
    if (name == "filter") return parse_filter_block(pos);
    if (name == "with") return parse_with(pos);
    if (name == "generation")
      return parse_simple_block(StmtKind::kGeneration, pos, "generation", "endgeneration");
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) return fail_at(pos, fmt::format("'{}' outside of a for loop", name));
      DSV3_RETURN_IF_ERROR(expect_block_end());
      return stmt(name == "break" ? StmtKind::kBreak : StmtKind::kContinue, pos);
    }
    static constexpr std::string_view kUnsupported[] = {"call",  "include", "import",     "from", "extends",
                                                        "block", "do",      "autoescape", "trans"};
    if (std::find(std::begin(kUnsupported), std::end(kUnsupported), name) != std::end(kUnsupported)) {
      return fail_at(pos, fmt::format("the '{}' tag is not supported", name));
    }
    if (name.rfind("end", 0) == 0 || name == "elif" || name == "else") {
      return fail_at(pos, fmt::format("unexpected '{}' (no open block it could close)", name));
    }
    return fail_at(pos, fmt::format("unknown tag '{}'", name));
  }

  [[gnu::noinline]] Result<StmtPtr> parse_if(Pos pos) {
    auto s = stmt(StmtKind::kIf, pos);
    DSV3_ASSIGN_OR_RETURN(ExprPtr cond, parse_tuple(false, false));
    DSV3_RETURN_IF_ERROR(expect_block_end());
    for (;;) {
      std::string which;
      DSV3_ASSIGN_OR_RETURN(Body body, parse_body({"elif", "else", "endif"}, &which, "if", pos));
      s->branches.emplace_back(std::move(cond), std::move(body));
      if (which == "elif") {
        DSV3_ASSIGN_OR_RETURN(cond, parse_tuple(false, false));
        DSV3_RETURN_IF_ERROR(expect_block_end());
        continue;
      }
      DSV3_RETURN_IF_ERROR(expect_block_end());
      if (which == "else") {
        DSV3_ASSIGN_OR_RETURN(s->else_body, parse_body({"endif"}, &which, "if", pos));
        DSV3_RETURN_IF_ERROR(expect_block_end());
      }
      return s;
    }
  }

  [[gnu::noinline]] Result<StmtPtr> parse_for(Pos pos) {
    auto s = stmt(StmtKind::kFor, pos);
    const bool paren = skip_op("(");
    do {
      DSV3_ASSIGN_OR_RETURN(std::string target, expect_name());
      s->targets.push_back(std::move(target));
    } while (skip_op(",") && cur().type == TokenType::kName);
    if (paren) DSV3_RETURN_IF_ERROR(expect_op(")"));
    if (!skip_name("in")) return unexpected("'in'");
    DSV3_ASSIGN_OR_RETURN(s->expr, parse_tuple(false, false));
    if (skip_name("if")) {
      DSV3_ASSIGN_OR_RETURN(s->cond, parse_expression(true));
    }
    if (is_name("recursive")) return fail("recursive for loops are not supported");
    DSV3_RETURN_IF_ERROR(expect_block_end());
    std::string which;
    ++loop_depth_;
    auto body = parse_body({"else", "endfor"}, &which, "for", pos);
    --loop_depth_;
    if (!body.ok()) return body.error();
    s->body = std::move(body).value();
    DSV3_RETURN_IF_ERROR(expect_block_end());
    if (which == "else") {
      DSV3_ASSIGN_OR_RETURN(s->else_body, parse_body({"endfor"}, &which, "for", pos));
      DSV3_RETURN_IF_ERROR(expect_block_end());
    }
    return s;
  }

  [[gnu::noinline]] Result<StmtPtr> parse_set(Pos pos) {
    auto s = stmt(StmtKind::kSet, pos);
    DSV3_ASSIGN_OR_RETURN(std::string first, expect_name());
    s->targets.push_back(std::move(first));
    if (skip_op(".")) {
      s->attr_target = true;
      DSV3_ASSIGN_OR_RETURN(s->name, expect_name());
    } else {
      while (skip_op(",")) {
        DSV3_ASSIGN_OR_RETURN(std::string target, expect_name());
        s->targets.push_back(std::move(target));
      }
    }
    if (skip_op("=")) {
      DSV3_ASSIGN_OR_RETURN(s->expr, parse_tuple(true, false));
      DSV3_RETURN_IF_ERROR(expect_block_end());
      return s;
    }
    if (s->targets.size() > 1) return unexpected("'='");
    s->block_set = true;
    if (is_op("|")) {
      DSV3_ASSIGN_OR_RETURN(s->expr, parse_filters(node(ExprKind::kPlaceholder, pos), false));
    }
    DSV3_RETURN_IF_ERROR(expect_block_end());
    std::string which;
    DSV3_ASSIGN_OR_RETURN(s->body, parse_body({"endset"}, &which, "set", pos));
    DSV3_RETURN_IF_ERROR(expect_block_end());
    return s;
  }

  [[gnu::noinline]] Result<StmtPtr> parse_macro(Pos pos) {
    auto s = stmt(StmtKind::kMacro, pos);
    DSV3_ASSIGN_OR_RETURN(s->name, expect_name());
    DSV3_RETURN_IF_ERROR(expect_op("("));
    while (!is_op(")")) {
      DSV3_ASSIGN_OR_RETURN(std::string param, expect_name());
      ExprPtr def;
      if (skip_op("=")) {
        DSV3_ASSIGN_OR_RETURN(def, parse_expression(true));
      }
      s->targets.push_back(std::move(param));
      s->defaults.push_back(std::move(def));
      if (!skip_op(",")) break;
    }
    DSV3_RETURN_IF_ERROR(expect_op(")"));
    DSV3_RETURN_IF_ERROR(expect_block_end());
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;  // break/continue cannot cross a macro boundary
    std::string which;
    auto body = parse_body({"endmacro"}, &which, "macro", pos);
    loop_depth_ = saved_loops;
    if (!body.ok()) return body.error();
    s->body = std::move(body).value();
    DSV3_RETURN_IF_ERROR(expect_block_end());
    return s;
  }

  [[gnu::noinline]] Result<StmtPtr> parse_filter_block(Pos pos) {
    auto s = stmt(StmtKind::kFilterBlock, pos);
    DSV3_ASSIGN_OR_RETURN(s->expr, parse_filters(node(ExprKind::kPlaceholder, pos), true));
    DSV3_RETURN_IF_ERROR(expect_block_end());
    std::string which;
    DSV3_ASSIGN_OR_RETURN(s->body, parse_body({"endfilter"}, &which, "filter", pos));
    DSV3_RETURN_IF_ERROR(expect_block_end());
    return s;
  }

  [[gnu::noinline]] Result<StmtPtr> parse_with(Pos pos) {
    auto s = stmt(StmtKind::kWith, pos);
    while (cur().type == TokenType::kName) {
      DSV3_ASSIGN_OR_RETURN(std::string target, expect_name());
      DSV3_RETURN_IF_ERROR(expect_op("="));
      DSV3_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
      s->targets.push_back(std::move(target));
      s->defaults.push_back(std::move(value));
      if (!skip_op(",")) break;
    }
    DSV3_RETURN_IF_ERROR(expect_block_end());
    std::string which;
    DSV3_ASSIGN_OR_RETURN(s->body, parse_body({"endwith"}, &which, "with", pos));
    DSV3_RETURN_IF_ERROR(expect_block_end());
    return s;
  }

  [[gnu::noinline]] Result<StmtPtr> parse_simple_block(StmtKind kind, Pos pos, std::string_view open,
                                                       std::string_view end) {
    auto s = stmt(kind, pos);
    DSV3_RETURN_IF_ERROR(expect_block_end());
    std::string which;
    DSV3_ASSIGN_OR_RETURN(s->body, parse_body({end}, &which, open, pos));
    DSV3_RETURN_IF_ERROR(expect_block_end());
    return s;
  }

  // ---- expressions (lowest precedence first, as in Jinja2) ----------------------

  bool is_tuple_end() const {
    const TokenType t = cur().type;
    return t == TokenType::kVarEnd || t == TokenType::kBlockEnd || t == TokenType::kEof || is_op(")");
  }

  // `a, b` forms a tuple wherever an expression list may appear.
  Result<ExprPtr> parse_tuple(bool with_condexpr, bool explicit_parens) {
    if (is_tuple_end()) {
      if (!explicit_parens) return unexpected("an expression");
      return parse_tuple_rest(nullptr, with_condexpr);  // ()
    }
    DSV3_ASSIGN_OR_RETURN(ExprPtr first, parse_expression(with_condexpr));
    if (!is_op(",")) return first;
    return parse_tuple_rest(std::move(first), with_condexpr);
  }

  // The rest of `a, b, ...` after its first item (null for `()`).
  [[gnu::noinline]] Result<ExprPtr> parse_tuple_rest(ExprPtr first, bool with_condexpr) {
    auto t = node(ExprKind::kTuple, first ? first->pos : pos_of(cur()));
    if (first) t->args.push_back(std::move(first));
    while (skip_op(",") && !is_tuple_end()) {
      DSV3_ASSIGN_OR_RETURN(ExprPtr e, parse_expression(with_condexpr));
      t->args.push_back(std::move(e));
    }
    return done(std::move(t));
  }

  Result<ExprPtr> parse_expression(bool with_condexpr) {
    Nest nest(depth_);
    if (depth_ > limits_.max_nesting) return too_deep();
    return with_condexpr ? parse_condexpr() : parse_binary(0);
  }

  Result<ExprPtr> parse_condexpr() {
    DSV3_ASSIGN_OR_RETURN(ExprPtr expr, parse_binary(0));
    if (!is_name("if")) return expr;
    return parse_condition_tail(std::move(expr));
  }

  // `expr if cond [else other]`, repeatedly.
  [[gnu::noinline]] Result<ExprPtr> parse_condition_tail(ExprPtr expr) {
    while (is_name("if")) {
      auto c = node(ExprKind::kCondition, pos_of(cur()));
      advance();
      DSV3_ASSIGN_OR_RETURN(ExprPtr cond, parse_binary(0));
      ExprPtr otherwise;
      if (skip_name("else")) {
        DSV3_ASSIGN_OR_RETURN(otherwise, parse_expression(true));
      }
      c->args.push_back(std::move(cond));
      c->args.push_back(std::move(expr));
      c->args.push_back(std::move(otherwise));
      DSV3_ASSIGN_OR_RETURN(expr, done(std::move(c)));
    }
    return expr;
  }

  Result<ExprPtr> binary(std::string op, Pos pos, ExprPtr left, ExprPtr right) const {
    auto b = node(ExprKind::kBinary, pos);
    b->name = std::move(op);
    b->args.push_back(std::move(left));
    b->args.push_back(std::move(right));
    return done(std::move(b));
  }

  // Binary operators by Jinja2's precedence, loosest first: 0 `or`, 1 `and`,
  // (2 prefix `not`), 3 comparisons and `in`/`not in`, 4 `+ -`, 5 `~`,
  // 6 `* / // %`, 7 `**`. All are left-associative. Returns -1 if the
  // current token is no binary operator; *op gets its name.
  int op_level(std::string* op) const {
    const Token& t = cur();
    if (t.type == TokenType::kName) {
      if (t.text == "or" || t.text == "and") {
        *op = t.text;
        return t.text == "or" ? 0 : 1;
      }
      if (t.text == "in") {
        *op = "in";
        return 3;
      }
      if (t.text == "not" && look().type == TokenType::kName && look().text == "in") {
        *op = "notin";
        return 3;
      }
      return -1;
    }
    if (t.type != TokenType::kOp) return -1;
    static constexpr std::pair<std::string_view, int> kOps[] = {
        {"==", 3}, {"!=", 3}, {"<", 3}, {"<=", 3}, {">", 3},  {">=", 3}, {"+", 4},
        {"-", 4},  {"~", 5},  {"*", 6}, {"/", 6},  {"//", 6}, {"%", 6},  {"**", 7}};
    for (const auto& [text, level] : kOps) {
      if (t.text == text) {
        *op = t.text;
        return level;
      }
    }
    return -1;
  }

  // Precedence climbing over op_level(); one C++ frame per operand instead
  // of one per precedence level keeps deeply nested input cheap on the stack.
  Result<ExprPtr> parse_binary(int min_level) {
    ExprPtr left;
    if (min_level <= 2 && is_name("not")) {
      DSV3_ASSIGN_OR_RETURN(left, parse_not());
    } else {
      DSV3_ASSIGN_OR_RETURN(left, parse_unary(true));
    }
    std::string op;
    for (int level = op_level(&op); level >= min_level; level = op_level(&op)) {
      if (level == 3) {
        DSV3_ASSIGN_OR_RETURN(left, parse_comparisons(std::move(left)));
        continue;
      }
      const Pos pos = pos_of(cur());
      advance();
      DSV3_ASSIGN_OR_RETURN(ExprPtr right, parse_binary(level + 1));
      DSV3_ASSIGN_OR_RETURN(left, binary(std::move(op), pos, std::move(left), std::move(right)));
    }
    return left;
  }

  // `not x` binds looser than comparisons: `not a == b` is `not (a == b)`.
  [[gnu::noinline]] Result<ExprPtr> parse_not() {
    Nest nest(depth_);
    if (depth_ > limits_.max_nesting) return too_deep();
    auto u = node(ExprKind::kUnary, pos_of(cur()));
    u->name = "not";
    advance();
    DSV3_ASSIGN_OR_RETURN(ExprPtr operand, parse_binary(2));
    u->args.push_back(std::move(operand));
    return done(std::move(u));
  }

  // `a < b <= c` chains as in Python.
  [[gnu::noinline]] Result<ExprPtr> parse_comparisons(ExprPtr first) {
    auto c = node(ExprKind::kCompare, first->pos);
    c->args.push_back(std::move(first));
    std::string op;
    while (op_level(&op) == 3) {
      advance();
      if (op == "notin") advance();
      DSV3_ASSIGN_OR_RETURN(ExprPtr rhs, parse_binary(4));
      c->ops.push_back(op);
      c->args.push_back(std::move(rhs));
    }
    return done(std::move(c));
  }

  // Unary minus binds tighter than filters: `-x|abs` is `(-x)|abs`.
  Result<ExprPtr> parse_unary(bool with_filter) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      DSV3_ASSIGN_OR_RETURN(e, parse_sign());
    } else {
      DSV3_ASSIGN_OR_RETURN(e, parse_primary());
    }
    return parse_postfix_and_filters(std::move(e), with_filter);
  }

  [[gnu::noinline]] Result<ExprPtr> parse_sign() {
    Nest nest(depth_);
    if (depth_ > limits_.max_nesting) return too_deep();
    auto u = node(ExprKind::kUnary, pos_of(cur()));
    u->name = cur().text;
    advance();
    DSV3_ASSIGN_OR_RETURN(ExprPtr operand, parse_unary(false));
    u->args.push_back(std::move(operand));
    return done(std::move(u));
  }

  [[gnu::noinline]] Result<ExprPtr> parse_postfix_and_filters(ExprPtr e, bool with_filter) {
    DSV3_ASSIGN_OR_RETURN(e, parse_postfix(std::move(e)));
    if (!with_filter) return e;
    return parse_filter_expr(std::move(e));
  }

  Result<ExprPtr> parse_primary() {
    const Token& t = cur();
    switch (t.type) {
      case TokenType::kName:
      case TokenType::kString:
      case TokenType::kInt:
      case TokenType::kFloat:
        return parse_atom();
      case TokenType::kOp:
        if (t.text == "(") return parse_paren();
        if (t.text == "[") return parse_list(pos_of(t));
        if (t.text == "{") return parse_dict(pos_of(t));
        break;
      default:
        break;
    }
    return fail(fmt::format("unexpected {}", describe(t)));
  }

  // Names and literals; adjacent string literals concatenate.
  [[gnu::noinline]] Result<ExprPtr> parse_atom() {
    const Token& t = cur();
    auto lit = node(ExprKind::kLiteral, pos_of(t));
    switch (t.type) {
      case TokenType::kName:
        if (t.text == "true" || t.text == "True") {
          lit->literal = Value::boolean(true);
        } else if (t.text == "false" || t.text == "False") {
          lit->literal = Value::boolean(false);
        } else if (t.text == "none" || t.text == "None") {
          lit->literal = Value::none();
        } else {
          lit->kind = ExprKind::kName;
          lit->name = t.text;
        }
        advance();
        return lit;
      case TokenType::kString: {
        std::string s;
        while (cur().type == TokenType::kString) {
          s += cur().text;
          advance();
        }
        lit->literal = Value::string(std::move(s));
        return lit;
      }
      case TokenType::kInt:
        lit->literal = Value::integer(t.int_value);
        break;
      default:
        lit->literal = Value::number(t.float_value);
        break;
    }
    advance();
    return lit;
  }

  [[gnu::noinline]] Result<ExprPtr> parse_paren() {
    advance();
    DSV3_ASSIGN_OR_RETURN(ExprPtr e, parse_tuple(true, true));
    DSV3_RETURN_IF_ERROR(expect_op(")"));
    return e;
  }

  [[gnu::noinline]] Result<ExprPtr> parse_list(Pos pos) {
    advance();
    auto l = node(ExprKind::kList, pos);
    while (!is_op("]")) {
      DSV3_ASSIGN_OR_RETURN(ExprPtr item, parse_expression(true));
      l->args.push_back(std::move(item));
      if (!skip_op(",")) break;
    }
    DSV3_RETURN_IF_ERROR(expect_op("]"));
    return done(std::move(l));
  }

  [[gnu::noinline]] Result<ExprPtr> parse_dict(Pos pos) {
    advance();
    auto d = node(ExprKind::kDict, pos);
    while (!is_op("}")) {
      DSV3_ASSIGN_OR_RETURN(ExprPtr key, parse_expression(true));
      DSV3_RETURN_IF_ERROR(expect_op(":"));
      DSV3_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
      d->args.push_back(std::move(key));
      d->args.push_back(std::move(value));
      if (!skip_op(",")) break;
    }
    DSV3_RETURN_IF_ERROR(expect_op("}"));
    return done(std::move(d));
  }

  [[gnu::noinline]] Result<ExprPtr> parse_postfix(ExprPtr e) {
    for (;;) {
      const Pos pos = pos_of(cur());
      if (skip_op(".")) {
        if (cur().type == TokenType::kName) {
          auto a = node(ExprKind::kAttr, pos);
          a->name = cur().text;
          a->args.push_back(std::move(e));
          advance();
          DSV3_ASSIGN_OR_RETURN(e, done(std::move(a)));
        } else if (cur().type == TokenType::kInt) {  // a.0 is a[0]
          auto s = node(ExprKind::kSubscript, pos);
          auto index = node(ExprKind::kLiteral, pos_of(cur()));
          index->literal = Value::integer(cur().int_value);
          advance();
          s->args.push_back(std::move(e));
          s->args.push_back(std::move(index));
          DSV3_ASSIGN_OR_RETURN(e, done(std::move(s)));
        } else {
          return unexpected("an attribute name after '.'");
        }
      } else if (is_op("[")) {
        DSV3_ASSIGN_OR_RETURN(e, parse_subscript(std::move(e)));
      } else if (is_op("(")) {
        DSV3_ASSIGN_OR_RETURN(e, parse_call(std::move(e)));
      } else {
        return e;
      }
    }
  }

  [[gnu::noinline]] Result<ExprPtr> parse_subscript(ExprPtr e) {
    const Pos pos = pos_of(cur());
    advance();
    ExprPtr start;
    if (!is_op(":")) {
      DSV3_ASSIGN_OR_RETURN(start, parse_expression(true));
      if (!is_op(":")) {
        DSV3_RETURN_IF_ERROR(expect_op("]"));
        auto s = node(ExprKind::kSubscript, pos);
        s->args.push_back(std::move(e));
        s->args.push_back(std::move(start));
        return done(std::move(s));
      }
    }
    advance();  // ':'
    ExprPtr stop, step;
    if (!is_op("]") && !is_op(":")) {
      DSV3_ASSIGN_OR_RETURN(stop, parse_expression(true));
    }
    if (skip_op(":") && !is_op("]")) {
      DSV3_ASSIGN_OR_RETURN(step, parse_expression(true));
    }
    DSV3_RETURN_IF_ERROR(expect_op("]"));
    auto s = node(ExprKind::kSlice, pos);
    s->args.push_back(std::move(e));
    s->args.push_back(std::move(start));
    s->args.push_back(std::move(stop));
    s->args.push_back(std::move(step));
    return done(std::move(s));
  }

  // Parses `(a, b, key=c)` into e->args (after any existing ones) and e->kwargs.
  [[gnu::noinline]] Status parse_call_args(Expr& e) {
    DSV3_RETURN_IF_ERROR(expect_op("("));
    while (!is_op(")")) {
      if (is_op("*") || is_op("**")) return fail("*args and **kwargs in calls are not supported");
      if (cur().type == TokenType::kName && look().type == TokenType::kOp && look().text == "=") {
        std::string key = cur().text;
        advance();
        advance();
        DSV3_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
        e.kwargs.emplace_back(std::move(key), std::move(value));
      } else {
        if (!e.kwargs.empty()) return fail("positional argument follows keyword argument");
        DSV3_ASSIGN_OR_RETURN(ExprPtr value, parse_expression(true));
        e.args.push_back(std::move(value));
      }
      if (!skip_op(",")) break;
    }
    return expect_op(")");
  }

  [[gnu::noinline]] Result<ExprPtr> parse_call(ExprPtr callee) {
    auto c = node(ExprKind::kCall, callee->pos);
    c->args.push_back(std::move(callee));
    DSV3_RETURN_IF_ERROR(parse_call_args(*c));
    return done(std::move(c));
  }

  [[gnu::noinline]] Result<ExprPtr> parse_filter_expr(ExprPtr e) {
    for (;;) {
      if (is_op("|")) {
        DSV3_ASSIGN_OR_RETURN(e, parse_filters(std::move(e), false, true));
      } else if (is_name("is")) {
        DSV3_ASSIGN_OR_RETURN(e, parse_test(std::move(e)));
      } else if (is_op("(")) {
        DSV3_ASSIGN_OR_RETURN(e, parse_call(std::move(e)));
      } else {
        return e;
      }
    }
  }

  // `| name(args) | name ...`; `inline_first` parses a first filter that has
  // no leading pipe ({% filter upper %}); `just_one` stops after one filter.
  [[gnu::noinline]] Result<ExprPtr> parse_filters(ExprPtr e, bool inline_first, bool just_one = false) {
    while (inline_first || is_op("|")) {
      if (!inline_first) advance();
      inline_first = false;
      const Pos pos = pos_of(cur());
      DSV3_ASSIGN_OR_RETURN(std::string name, expect_name());
      while (skip_op(".")) {
        DSV3_ASSIGN_OR_RETURN(std::string part, expect_name());
        name += "." + part;
      }
      if (!is_filter_name(name)) return fail_at(pos, fmt::format("unknown filter '{}'", name));
      auto f = node(ExprKind::kFilter, pos);
      f->name = std::move(name);
      f->args.push_back(std::move(e));
      if (is_op("(")) DSV3_RETURN_IF_ERROR(parse_call_args(*f));
      DSV3_ASSIGN_OR_RETURN(e, done(std::move(f)));
      if (just_one) break;
    }
    return e;
  }

  [[gnu::noinline]] Result<ExprPtr> parse_test(ExprPtr e) {
    const Pos pos = pos_of(cur());
    advance();  // 'is'
    auto t = node(ExprKind::kTest, pos);
    t->negated = skip_name("not");
    DSV3_ASSIGN_OR_RETURN(t->name, expect_name());
    while (skip_op(".")) {
      DSV3_ASSIGN_OR_RETURN(std::string part, expect_name());
      t->name += "." + part;
    }
    if (!is_test_name(t->name)) return fail_at(pos, fmt::format("unknown test '{}'", t->name));
    t->args.push_back(std::move(e));
    if (is_op("(")) {
      DSV3_RETURN_IF_ERROR(parse_call_args(*t));
    } else {
      // One argument without parentheses: `is divisibleby 3`, `is sameas none`.
      const TokenType ty = cur().type;
      const bool starts_arg = ty == TokenType::kName || ty == TokenType::kString || ty == TokenType::kInt ||
                              ty == TokenType::kFloat || is_op("[") || is_op("{");
      if (starts_arg && !is_name("else") && !is_name("or") && !is_name("and") && !is_name("if")) {
        if (is_name("is")) return fail("cannot chain tests with 'is'");
        DSV3_ASSIGN_OR_RETURN(ExprPtr arg, parse_primary());
        DSV3_ASSIGN_OR_RETURN(arg, parse_postfix(std::move(arg)));
        t->args.push_back(std::move(arg));
      }
    }
    return done(std::move(t));
  }
};

}  // namespace

Result<std::shared_ptr<const Program>> parse_program(std::string_view source, const Options& options) {
  LexOptions lex;
  lex.trim_blocks = options.trim_blocks;
  lex.lstrip_blocks = options.lstrip_blocks;
  lex.keep_trailing_newline = options.keep_trailing_newline;
  lex.max_nesting = options.limits.max_nesting;
  DSV3_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(source, lex));
  Parser parser(std::move(tokens), options.limits);
  DSV3_ASSIGN_OR_RETURN(Body body, parser.parse_template());
  auto program = std::make_shared<Program>();
  program->body = std::move(body);
  program->limits = options.limits;
  return std::shared_ptr<const Program>(std::move(program));
}

}  // namespace dsv3::jinja
