#include "jinja/render.h"

#include <cmath>
#include <unordered_map>

#include "jinja/access.h"
#include "jinja/arguments.h"
#include "jinja/budget.h"
#include "jinja/filters.h"
#include "jinja/globals.h"
#include "jinja/methods.h"
#include "jinja/tests.h"
#include "jinja/unicode.h"

namespace dsv3::jinja {
namespace {

// Error paths are kept out of line (noinline, cold) so that they do not
// enlarge the stack frames of the recursive evaluator.
[[gnu::noinline, gnu::cold]] Error at(Pos p, std::string_view message) {
  return make_error("jinja {}:{}: {}", p.line, p.col, message);
}
[[gnu::noinline, gnu::cold]] Error at(Pos p, const Error& e) { return at(p, e.message); }

[[gnu::noinline, gnu::cold]] Error undefined_error(const Value& v, std::string_view what) {
  if (!v.undefined_name().empty()) return make_error("'{}' is undefined", v.undefined_name());
  return make_error("undefined value in {}", what);
}

[[gnu::noinline, gnu::cold]] Error operand_error(std::string_view op, const Value& a, const Value& b) {
  if (a.is_undefined()) return undefined_error(a, op);
  if (b.is_undefined()) return undefined_error(b, op);
  return make_error("unsupported operand type(s) for {}: '{}' and '{}'", op, type_name(a), type_name(b));
}

// Python's floor division and modulo (results take the divisor's sign).
int64_t floor_div(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
int64_t floor_mod(int64_t a, int64_t b) {
  const int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

[[gnu::noinline]] Result<Value> arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (!a.is_number() || !b.is_number()) return operand_error(op, a, b);
  const bool ints = a.is_integral() && b.is_integral();
  const double x = a.as_double(), y = b.as_double();
  if (op == "+" || op == "-" || op == "*") {
    if (ints) {
      int64_t r = 0;
      const int64_t i = a.as_int(), j = b.as_int();
      const bool overflow = op == "+"   ? __builtin_add_overflow(i, j, &r)
                            : op == "-" ? __builtin_sub_overflow(i, j, &r)
                                        : __builtin_mul_overflow(i, j, &r);
      if (!overflow) return Value::integer(r);  // else fall through to float (Python would stay exact)
    }
    return Value::number(op == "+" ? x + y : (op == "-" ? x - y : x * y));
  }
  if (op == "**") {
    if (ints && b.as_int() >= 0) {
      int64_t r = 1, base = a.as_int();
      bool overflow = false;
      for (int64_t e = b.as_int(); e > 0 && !overflow; e >>= 1) {
        if (e & 1) overflow = __builtin_mul_overflow(r, base, &r);
        if (e > 1 && !overflow) overflow = __builtin_mul_overflow(base, base, &base);
      }
      if (!overflow) return Value::integer(r);
    }
    if (x == 0.0 && y < 0) return make_error("0.0 cannot be raised to a negative power");
    return Value::number(std::pow(x, y));
  }
  if (y == 0.0) return make_error("division by zero");
  if (op == "/") return Value::number(x / y);
  if (ints) {
    const int64_t i = a.as_int(), j = b.as_int();
    if (i == INT64_MIN && j == -1) {
      return op == "//" ? Value::number(-static_cast<double>(i)) : Value::integer(0);
    }
    return Value::integer(op == "//" ? floor_div(i, j) : floor_mod(i, j));
  }
  // CPython's float divmod, so that e.g. 1 // 0.1 == 9.0 as in Python.
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0.0) {
    if ((y < 0) != (mod < 0)) {
      mod += y;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, y);
  }
  double floordiv = 0.0;
  if (div != 0.0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, x / y);
  }
  return Value::number(op == "//" ? floordiv : mod);
}

class Renderer {
 public:
  explicit Renderer(const Program& program) : program_(program), budget_(program.limits) {}

  Result<std::string> run(const Value& context) {
    frames_.resize(2);  // 0: globals, 1: the context and top-level assignments
    for (std::string_view name : global_names()) {
      frames_[0][std::string(name)] = Value::callable(Callable{std::string(name)});
    }
    if (context.is_dict()) {
      for (const auto& [key, value] : context.as_dict().entries()) frames_[1][key] = value;
    } else if (!context.is_none() && !context.is_undefined()) {
      return make_error("jinja: the template context must be an object, not '{}'", type_name(context));
    }
    std::string out;
    DSV3_ASSIGN_OR_RETURN(Flow flow, exec_body(program_.body, out));
    (void)flow;
    return out;
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Frame = std::unordered_map<std::string, Value>;

  const Program& program_;
  Budget budget_;
  std::vector<Frame> frames_;
  size_t floor_ = 0;  // inside a macro: its first frame (root frames 0 and 1 stay visible)
  int depth_ = 0;     // recursion of exec/eval, bounding the C++ stack
  const Value* placeholder_ = nullptr;

  int max_depth() const { return 2 * program_.limits.max_nesting; }
  int max_value_depth() const { return program_.limits.max_nesting; }

  // Counts `weight` levels of exec/eval recursion for the lifetime of a scope.
  struct Nest {
    explicit Nest(int& d, int weight = 1) : d_(d), w_(weight) { d_ += w_; }
    ~Nest() { d_ -= w_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;
    int& d_;
    int w_;
  };
  // A macro call costs this many levels: its frames are the largest.
  static constexpr int kMacroWeight = 8;

  // One evaluation step: within the recursion and work limits?
  bool step_ok() { return depth_ <= max_depth() && budget_.spend(1); }
  [[gnu::noinline, gnu::cold]] Error step_error(Pos pos) const {
    if (depth_ > max_depth()) {
      return at(pos, fmt::format("template recursion deeper than {} levels (recursive macro?)", max_depth()));
    }
    return at(pos, fmt::format("template exceeded its work limit ({} steps)", program_.limits.max_work));
  }

  Status check_value(const Value& v, Pos pos) const {
    if ((v.is_list() || v.is_dict()) && v.depth() > max_value_depth()) {
      return at(pos, fmt::format("value nested deeper than {} levels", max_value_depth()));
    }
    return {};
  }

  Status emit(std::string& out, std::string_view s, Pos pos) const {
    if (out.size() + s.size() > program_.limits.max_output_bytes) {
      return at(pos, fmt::format("output exceeds the limit of {} bytes", program_.limits.max_output_bytes));
    }
    out += s;
    return {};
  }

  Value lookup(const std::string& name) const {
    for (size_t i = frames_.size(); i-- > floor_;) {
      auto it = frames_[i].find(name);
      if (it != frames_[i].end()) return it->second;
    }
    for (size_t i = std::min<size_t>(floor_, 2); i-- > 0;) {
      auto it = frames_[i].find(name);
      if (it != frames_[i].end()) return it->second;
    }
    return Value::undefined(name);
  }

  void assign(const std::string& name, Value v) { frames_.back()[name] = std::move(v); }

  // `a, b = value`: Python's iterable unpacking.
  Status unpack(const std::vector<std::string>& targets, const Value& v, Pos pos) {
    if (targets.size() == 1) {
      assign(targets[0], v);
      return {};
    }
    auto items = iterate(v);
    if (!items.ok() || v.is_undefined()) {
      return at(pos, fmt::format("cannot unpack a '{}' into {} names", type_name(v), targets.size()));
    }
    if (items->size() != targets.size()) {
      return at(pos, fmt::format("cannot unpack {} values into {} names", items->size(), targets.size()));
    }
    for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], (*items)[i]);
    return {};
  }

  // ---- statements ---------------------------------------------------------------

  Result<Flow> exec_body(const Body& body, std::string& out) {
    for (const StmtPtr& s : body) {
      DSV3_ASSIGN_OR_RETURN(Flow flow, exec(*s, out));
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  Result<Flow> exec(const Stmt& s, std::string& out) {
    Nest nest(depth_);
    if (!step_ok()) return step_error(s.pos);
    switch (s.kind) {
      case StmtKind::kText:
        DSV3_RETURN_IF_ERROR(emit(out, s.text, s.pos));
        return Flow::kNormal;
      case StmtKind::kOutput:
        return exec_output(s, out);
      case StmtKind::kIf:
        return exec_if(s, out);
      case StmtKind::kFor:
        return exec_for(s, out);
      case StmtKind::kSet:
        return exec_set(s);
      case StmtKind::kMacro:
        assign(s.name, Value::callable(Callable{s.name, &s}));
        return Flow::kNormal;
      case StmtKind::kFilterBlock:
        return exec_filter_block(s, out);
      case StmtKind::kWith:
        return exec_with(s, out);
      case StmtKind::kGeneration:
        return exec_body(s.body, out);
      case StmtKind::kBreak:
        return Flow::kBreak;
      case StmtKind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  [[gnu::noinline]] Result<Flow> exec_output(const Stmt& s, std::string& out) {
    DSV3_ASSIGN_OR_RETURN(Value v, eval(*s.expr));
    DSV3_RETURN_IF_ERROR(emit(out, to_str(v), s.pos));
    return Flow::kNormal;
  }

  [[gnu::noinline]] Result<Flow> exec_if(const Stmt& s, std::string& out) {
    for (const auto& [cond, body] : s.branches) {
      DSV3_ASSIGN_OR_RETURN(Value c, eval(*cond));
      if (truthy(c)) return exec_body(body, out);
    }
    return exec_body(s.else_body, out);
  }

  [[gnu::noinline]] Result<Flow> exec_for(const Stmt& s, std::string& out) {
    DSV3_ASSIGN_OR_RETURN(Value seq, eval(*s.expr));
    auto listed = iterate(seq);
    if (!listed.ok()) return at(s.expr->pos, listed.error());
    auto loop = std::make_shared<LoopInfo>();
    loop->items = std::move(listed).value();
    if (s.cond) DSV3_RETURN_IF_ERROR(filter_loop_items(s, loop->items));
    if (loop->items.empty()) return exec_body(s.else_body, out);
    const Value loop_value = Value::loop(loop);
    frames_.emplace_back();  // the loop's scope, emptied for each iteration as in Jinja
    for (size_t i = 0; i < loop->items.size(); ++i) {
      if (Status st = budget_.iteration(); !st.ok()) return at(s.pos, st.error());
      loop->index0 = static_cast<int64_t>(i);
      frames_.back().clear();
      assign("loop", loop_value);
      DSV3_RETURN_IF_ERROR(unpack(s.targets, loop->items[i], s.pos));
      DSV3_ASSIGN_OR_RETURN(Flow flow, exec_body(s.body, out));
      if (flow == Flow::kBreak) break;
    }
    frames_.pop_back();
    return Flow::kNormal;
  }

  // `for x in xs if cond`: filters first, so that loop.length counts survivors.
  [[gnu::noinline]] Status filter_loop_items(const Stmt& s, std::vector<Value>& items) {
    std::vector<Value> kept;
    for (Value& item : items) {
      if (Status st = budget_.iteration(); !st.ok()) return at(s.pos, st.error());
      frames_.emplace_back();
      DSV3_RETURN_IF_ERROR(unpack(s.targets, item, s.pos));
      auto c = eval(*s.cond);
      frames_.pop_back();
      if (!c.ok()) return c.error();
      if (truthy(c.value())) kept.push_back(std::move(item));
    }
    items = std::move(kept);
    return {};
  }

  [[gnu::noinline]] Result<Flow> exec_set(const Stmt& s) {
    Value v;
    if (s.block_set) {
      std::string buf;
      DSV3_ASSIGN_OR_RETURN(Flow flow, exec_body(s.body, buf));
      (void)flow;
      v = Value::string(std::move(buf));
      if (s.expr) {
        DSV3_ASSIGN_OR_RETURN(v, eval_with_placeholder(*s.expr, v));
      }
    } else {
      DSV3_ASSIGN_OR_RETURN(v, eval(*s.expr));
    }
    DSV3_RETURN_IF_ERROR(check_value(v, s.pos));
    if (!s.attr_target) {
      DSV3_RETURN_IF_ERROR(unpack(s.targets, v, s.pos));
      return Flow::kNormal;
    }
    const Value ns = lookup(s.targets[0]);
    if (ns.kind() != Value::Kind::kNamespace) {
      return at(s.pos,
                fmt::format("cannot assign attribute '{}' on '{}' ({}); only namespace() objects allow it",
                            s.name, s.targets[0], type_name(ns)));
    }
    if (v.has_namespace()) return at(s.pos, "a namespace cannot hold a namespace or loop object");
    ns.as_namespace().attrs.set(s.name, std::move(v));
    return Flow::kNormal;
  }

  [[gnu::noinline]] Result<Flow> exec_filter_block(const Stmt& s, std::string& out) {
    std::string buf;
    frames_.emplace_back();  // as in Jinja, what the body sets stays in the block
    DSV3_ASSIGN_OR_RETURN(Flow flow, exec_body(s.body, buf));
    frames_.pop_back();
    DSV3_ASSIGN_OR_RETURN(Value v, eval_with_placeholder(*s.expr, Value::string(std::move(buf))));
    DSV3_RETURN_IF_ERROR(emit(out, to_str(v), s.pos));
    return flow;
  }

  [[gnu::noinline]] Result<Flow> exec_with(const Stmt& s, std::string& out) {
    std::vector<Value> values;
    for (const ExprPtr& e : s.defaults) {
      DSV3_ASSIGN_OR_RETURN(Value v, eval(*e));
      values.push_back(std::move(v));
    }
    frames_.emplace_back();
    for (size_t i = 0; i < values.size(); ++i) assign(s.targets[i], std::move(values[i]));
    DSV3_ASSIGN_OR_RETURN(Flow flow, exec_body(s.body, out));
    frames_.pop_back();
    return flow;
  }

  // ---- expressions --------------------------------------------------------------

  Result<Value> eval_with_placeholder(const Expr& e, const Value& v) {
    const Value* saved = placeholder_;
    placeholder_ = &v;
    auto r = eval(e);
    placeholder_ = saved;
    return r;
  }

  // Dispatch only: each case lives in its own function so that the frame of
  // this recursive function stays small.
  Result<Value> eval(const Expr& e) {
    Nest nest(depth_);
    if (!step_ok()) return step_error(e.pos);
    switch (e.kind) {
      case ExprKind::kLiteral:
        return e.literal;
      case ExprKind::kName:
        return lookup(e.name);
      case ExprKind::kList:
      case ExprKind::kTuple:
        return eval_list(e);
      case ExprKind::kDict:
        return eval_dict(e);
      case ExprKind::kAttr:
        return eval_attr(e);
      case ExprKind::kSubscript:
        return eval_subscript(e);
      case ExprKind::kSlice:
        return eval_slice(e);
      case ExprKind::kCall:
        return eval_call(e);
      case ExprKind::kFilter:
        return eval_filter(e);
      case ExprKind::kTest:
        return eval_test(e);
      case ExprKind::kUnary:
        return eval_unary(e);
      case ExprKind::kBinary:
        return eval_binary(e);
      case ExprKind::kCompare:
        return eval_compare(e);
      case ExprKind::kCondition:
        return eval_condition(e);
      case ExprKind::kPlaceholder:
        return placeholder_ ? *placeholder_ : Value::undefined();
    }
    return Value::undefined();
  }

  [[gnu::noinline]] Result<Value> eval_list(const Expr& e) {
    std::vector<Value> items;
    items.reserve(e.args.size());
    for (const ExprPtr& a : e.args) {
      DSV3_ASSIGN_OR_RETURN(Value v, eval(*a));
      items.push_back(std::move(v));
    }
    Value v = Value::list(std::move(items), e.kind == ExprKind::kTuple);
    DSV3_RETURN_IF_ERROR(check_value(v, e.pos));
    return v;
  }

  [[gnu::noinline]] Result<Value> eval_dict(const Expr& e) {
    Dict d;
    for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
      DSV3_ASSIGN_OR_RETURN(Value key, eval(*e.args[i]));
      DSV3_ASSIGN_OR_RETURN(Value value, eval(*e.args[i + 1]));
      if (!key.is_string() && !key.is_number() && !key.is_none()) {
        return at(e.args[i]->pos, fmt::format("dict keys must be strings, not '{}'", type_name(key)));
      }
      d.set(to_str(key), std::move(value));  // non-string keys are stored by their text
    }
    Value v = Value::dict(std::move(d));
    DSV3_RETURN_IF_ERROR(check_value(v, e.pos));
    return v;
  }

  [[gnu::noinline]] Result<Value> eval_attr(const Expr& e) {
    DSV3_ASSIGN_OR_RETURN(Value obj, eval(*e.args[0]));
    return get_attr(obj, e.name);
  }

  [[gnu::noinline]] Result<Value> eval_subscript(const Expr& e) {
    DSV3_ASSIGN_OR_RETURN(Value obj, eval(*e.args[0]));
    DSV3_ASSIGN_OR_RETURN(Value key, eval(*e.args[1]));
    return get_item(obj, key);
  }

  [[gnu::noinline]] Result<Value> eval_slice(const Expr& e) {
    DSV3_ASSIGN_OR_RETURN(Value obj, eval(*e.args[0]));
    int64_t bound[3] = {0, 0, 1};
    bool has[3] = {false, false, false};
    for (int k = 0; k < 3; ++k) {
      if (!e.args[static_cast<size_t>(k) + 1]) continue;
      DSV3_ASSIGN_OR_RETURN(Value b, eval(*e.args[static_cast<size_t>(k) + 1]));
      if (b.is_none()) continue;
      if (!b.is_integral()) return at(e.pos, "slice indices must be integers or None");
      bound[k] = b.as_int();
      has[k] = true;
    }
    const int64_t step = bound[2];
    if (step == 0) return at(e.pos, "slice step cannot be zero");
    std::vector<size_t> starts;
    int64_t n = 0;
    if (obj.is_list()) {
      n = static_cast<int64_t>(obj.as_list().size());
    } else if (obj.is_string()) {
      starts = utf8_starts(obj.as_string());
      n = static_cast<int64_t>(starts.size());
    } else {
      return Value::undefined();  // as Jinja: a failed subscript is undefined
    }
    // Python's slice.indices().
    auto clamp = [&](int64_t i, bool present, int64_t def) {
      if (!present) return def;
      if (i < 0) i = std::max<int64_t>(i + n, step < 0 ? -1 : 0);
      return std::min<int64_t>(i, step < 0 ? n - 1 : n);
    };
    const int64_t start = clamp(bound[0], has[0], step < 0 ? n - 1 : 0);
    const int64_t stop = clamp(bound[1], has[1], step < 0 ? -1 : n);
    std::vector<int64_t> picks;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) picks.push_back(i);
    if (Status st = budget_.work(picks.size()); !st.ok()) return at(e.pos, st.error());
    if (obj.is_list()) {
      std::vector<Value> out;
      out.reserve(picks.size());
      for (int64_t i : picks) out.push_back(obj.as_list()[static_cast<size_t>(i)]);
      return Value::list(std::move(out), obj.is_tuple());
    }
    const std::string& s = obj.as_string();
    std::string out;
    for (int64_t i : picks) {
      const auto k = static_cast<size_t>(i);
      const size_t end = k + 1 < starts.size() ? starts[k + 1] : s.size();
      out.append(s, starts[k], end - starts[k]);
    }
    return Value::string(std::move(out));
  }

  // Evaluates e.args[first..] and e.kwargs.
  Result<CallArgs> eval_args(const Expr& e, size_t first) {
    CallArgs args;
    for (size_t i = first; i < e.args.size(); ++i) {
      DSV3_ASSIGN_OR_RETURN(Value v, eval(*e.args[i]));
      args.positional.push_back(std::move(v));
    }
    for (const auto& [key, expr] : e.kwargs) {
      DSV3_ASSIGN_OR_RETURN(Value v, eval(*expr));
      args.keyword.emplace_back(key, std::move(v));
    }
    return args;
  }

  [[gnu::noinline]] Result<Value> eval_call(const Expr& e) {
    const Expr& callee = *e.args[0];
    if (callee.kind == ExprKind::kAttr) {  // obj.name(...): a stored callable, else a str/dict/list method
      DSV3_ASSIGN_OR_RETURN(Value obj, eval(*callee.args[0]));
      DSV3_ASSIGN_OR_RETURN(CallArgs args, eval_args(e, 1));
      Value member = get_attr(obj, callee.name);
      if (member.kind() == Value::Kind::kCallable) return call(member.as_callable(), std::move(args), e.pos);
      auto r = call_method(obj, callee.name, args, budget_);
      if (!r.ok()) return at(e.pos, r.error());
      DSV3_RETURN_IF_ERROR(check_value(r.value(), e.pos));
      return r;
    }
    DSV3_ASSIGN_OR_RETURN(Value fn, eval(callee));
    DSV3_ASSIGN_OR_RETURN(CallArgs args, eval_args(e, 1));
    if (fn.kind() == Value::Kind::kCallable) return call(fn.as_callable(), std::move(args), e.pos);
    if (fn.is_undefined()) return at(e.pos, undefined_error(fn, "call"));
    return at(e.pos, fmt::format("'{}' object is not callable", type_name(fn)));
  }

  Result<Value> call(const Callable& fn, CallArgs args, Pos pos) {
    if (fn.macro) return call_macro(*fn.macro, std::move(args), pos);
    return call_builtin(fn, args, pos);
  }

  [[gnu::noinline]] Result<Value> call_builtin(const Callable& fn, const CallArgs& args, Pos pos) {
    auto r = call_global(fn, args, budget_);
    if (!r.ok()) {
      if (fn.name == "raise_exception") return at(pos, "raise_exception: " + r.error().message);
      return at(pos, r.error());
    }
    DSV3_RETURN_IF_ERROR(check_value(r.value(), pos));
    return r;
  }

  // Macros see their arguments, the template's top-level variables and the
  // globals; they return their rendered body.
  Result<Value> call_macro(const Stmt& m, CallArgs args, Pos pos) {
    Nest nest(depth_, kMacroWeight);
    if (!step_ok()) return step_error(pos);
    const size_t saved_floor = floor_;
    DSV3_ASSIGN_OR_RETURN(Frame frame, bind_macro_args(m, std::move(args), pos));
    frames_.push_back(std::move(frame));
    floor_ = frames_.size() - 1;
    std::string buf;
    auto flow = exec_body(m.body, buf);
    frames_.pop_back();
    floor_ = saved_floor;
    if (!flow.ok()) return flow.error();
    return Value::string(std::move(buf));
  }

  // The macro's scope: parameters from arguments or defaults (evaluated in
  // that scope as it fills, so a default may use earlier parameters).
  [[gnu::noinline]] Result<Frame> bind_macro_args(const Stmt& m, CallArgs args, Pos pos) {
    if (args.positional.size() > m.targets.size()) {
      return at(pos, fmt::format("macro '{}' takes {} arguments ({} given)", m.name, m.targets.size(),
                                 args.positional.size()));
    }
    for (const auto& [key, value] : args.keyword) {
      if (std::find(m.targets.begin(), m.targets.end(), key) == m.targets.end()) {
        return at(pos, fmt::format("macro '{}' has no parameter '{}'", m.name, key));
      }
    }
    const size_t saved_floor = floor_;
    frames_.emplace_back();
    floor_ = frames_.size() - 1;
    for (size_t i = 0; i < m.targets.size(); ++i) {
      Value v;
      bool found = i < args.positional.size();
      if (found) v = std::move(args.positional[i]);
      for (auto& [key, value] : args.keyword) {
        if (key == m.targets[i]) {
          if (found) return at(pos, fmt::format("macro '{}' got multiple values for '{}'", m.name, key));
          v = std::move(value);
          found = true;
        }
      }
      if (!found && m.defaults[i]) {
        DSV3_ASSIGN_OR_RETURN(v, eval(*m.defaults[i]));
      }
      assign(m.targets[i], std::move(v));
    }
    Frame frame = std::move(frames_.back());
    frames_.pop_back();
    floor_ = saved_floor;
    return frame;
  }

  [[gnu::noinline]] Result<Value> eval_filter(const Expr& e) {
    DSV3_ASSIGN_OR_RETURN(Value v, eval(*e.args[0]));
    DSV3_ASSIGN_OR_RETURN(CallArgs args, eval_args(e, 1));
    auto r = apply_filter(e.name, v, args, budget_);
    if (!r.ok()) return at(e.pos, r.error());
    DSV3_RETURN_IF_ERROR(check_value(r.value(), e.pos));
    return r;
  }

  [[gnu::noinline]] Result<Value> eval_test(const Expr& e) {
    DSV3_ASSIGN_OR_RETURN(Value v, eval(*e.args[0]));
    DSV3_ASSIGN_OR_RETURN(CallArgs args, eval_args(e, 1));
    auto r = apply_test(e.name, v, args);
    if (!r.ok()) return at(e.pos, r.error());
    return Value::boolean(r.value() != e.negated);
  }

  [[gnu::noinline]] Result<Value> eval_unary(const Expr& e) {
    DSV3_ASSIGN_OR_RETURN(Value v, eval(*e.args[0]));
    if (e.name == "not") return Value::boolean(!truthy(v));
    if (!v.is_number()) {
      if (v.is_undefined()) return at(e.pos, undefined_error(v, "unary " + e.name));
      return at(e.pos, fmt::format("bad operand type for unary {}: '{}'", e.name, type_name(v)));
    }
    if (e.name == "+") return v.is_integral() ? Value::integer(v.as_int()) : v;
    if (v.is_integral() && v.as_int() != INT64_MIN) return Value::integer(-v.as_int());
    return Value::number(-v.as_double());
  }

  [[gnu::noinline]] Result<Value> eval_binary(const Expr& e) {
    DSV3_ASSIGN_OR_RETURN(Value a, eval(*e.args[0]));
    if (e.name == "and") return truthy(a) ? eval(*e.args[1]) : Result<Value>(a);
    if (e.name == "or") return truthy(a) ? Result<Value>(a) : eval(*e.args[1]);
    DSV3_ASSIGN_OR_RETURN(Value b, eval(*e.args[1]));
    auto r = binary(e.name, a, b);
    if (!r.ok()) return at(e.pos, r.error());
    return r;
  }

  [[gnu::noinline]] Result<Value> binary(const std::string& op, const Value& a, const Value& b) {
    if (op == "~") return concat(to_str(a), to_str(b));
    if (op == "+") {
      if (a.is_string() && b.is_string()) return concat(a.as_string(), b.as_string());
      if (a.is_list() && b.is_list()) {
        std::vector<Value> items = a.as_list();
        items.insert(items.end(), b.as_list().begin(), b.as_list().end());
        DSV3_RETURN_IF_ERROR(budget_.list_size(items.size()));
        DSV3_RETURN_IF_ERROR(budget_.work(items.size()));
        return Value::list(std::move(items), a.is_tuple() && b.is_tuple());
      }
      if (a.is_string() || b.is_string()) {
        if (a.is_undefined() || b.is_undefined()) return operand_error(op, a, b);
        return make_error("can only concatenate str (not '{}') to str", type_name(a.is_string() ? b : a));
      }
    }
    if (op == "*" && (a.is_string() || a.is_list() || b.is_string() || b.is_list())) return repeat(a, b);
    if (op == "%" && a.is_string()) {  // printf-style formatting, as Python's str % args
      CallArgs args;
      if (b.is_list() && b.is_tuple()) {
        args.positional = b.as_list();
      } else {
        args.positional.push_back(b);
      }
      return apply_filter("format", a, args, budget_);
    }
    return arithmetic(op, a, b);
  }

  // str * n and list * n (either operand order), within the size limits.
  [[gnu::noinline]] Result<Value> repeat(const Value& a, const Value& b) {
    const Value& seq = a.is_string() || a.is_list() ? a : b;
    const Value& count = a.is_string() || a.is_list() ? b : a;
    if (!count.is_integral()) return operand_error("*", a, b);
    const int64_t n = std::max<int64_t>(count.as_int(), 0);
    const size_t unit = seq.is_string() ? seq.as_string().size() : seq.as_list().size();
    if (unit == 0 || n == 0) return seq.is_string() ? Value::string("") : Value::list({});
    // n is capped before multiplying, so the size checks cannot overflow.
    const Limits& limits = budget_.limits();
    const size_t cap = seq.is_string() ? limits.max_output_bytes : limits.max_list_items;
    const size_t total = static_cast<size_t>(std::min<int64_t>(n, static_cast<int64_t>(cap) + 1)) * unit;
    DSV3_RETURN_IF_ERROR(seq.is_string() ? budget_.string_size(total) : budget_.list_size(total));
    DSV3_RETURN_IF_ERROR(budget_.work(seq.is_string() ? total / 16 + 1 : total));
    if (seq.is_string()) {
      std::string out;
      out.reserve(total);
      for (int64_t i = 0; i < n; ++i) out += seq.as_string();
      return Value::string(std::move(out));
    }
    std::vector<Value> out;
    out.reserve(total);
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.as_list().begin(), seq.as_list().end());
    return Value::list(std::move(out));
  }

  [[gnu::noinline]] Result<Value> concat(const std::string& a, const std::string& b) {
    DSV3_RETURN_IF_ERROR(budget_.string_size(a.size() + b.size()));
    DSV3_RETURN_IF_ERROR(budget_.work((a.size() + b.size()) / 16));
    std::string out;
    out.reserve(a.size() + b.size());
    out += a;
    out += b;
    return Value::string(std::move(out));
  }

  [[gnu::noinline]] Result<Value> eval_compare(const Expr& e) {
    DSV3_ASSIGN_OR_RETURN(Value left, eval(*e.args[0]));
    for (size_t i = 0; i < e.ops.size(); ++i) {
      DSV3_ASSIGN_OR_RETURN(Value right, eval(*e.args[i + 1]));
      auto r = compare_op(e.ops[i], left, right);
      if (!r.ok()) return at(e.args[i + 1]->pos, r.error());
      if (!r.value()) return Value::boolean(false);
      left = std::move(right);
    }
    return Value::boolean(true);
  }

  [[gnu::noinline]] static Result<bool> compare_op(const std::string& op, const Value& a, const Value& b) {
    if (op == "==") return equals(a, b);
    if (op == "!=") return !equals(a, b);
    if (op == "in" || op == "notin") {
      CallArgs args;
      args.positional.push_back(b);
      DSV3_ASSIGN_OR_RETURN(bool in, apply_test("in", a, args));
      return in == (op == "in");
    }
    if (a.is_undefined() || b.is_undefined()) return operand_error(op, a, b);
    auto c = compare(a, b);
    if (!c.ok())
      return make_error("'{}' not supported between instances of '{}' and '{}'", op, type_name(a),
                        type_name(b));
    const int v = c.value();
    if (op == "<") return v < 0;
    if (op == "<=") return v <= 0;
    if (op == ">") return v > 0;
    return v >= 0;
  }

  [[gnu::noinline]] Result<Value> eval_condition(const Expr& e) {
    DSV3_ASSIGN_OR_RETURN(Value c, eval(*e.args[0]));
    if (truthy(c)) return eval(*e.args[1]);
    if (e.args[2]) return eval(*e.args[2]);
    return Value::undefined();
  }
};

}  // namespace

Result<std::string> render_program(const Program& program, const Value& context) {
  Renderer renderer(program);
  return renderer.run(context);
}

}  // namespace dsv3::jinja
