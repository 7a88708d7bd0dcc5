// Error values that cross module boundaries: a message that says what and where.
#pragma once
#include <fmt/format.h>

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace dsv3 {

struct Error {
  std::string message;
};

template <class... Args>
Error make_error(fmt::format_string<Args...> f, Args&&... args) {
  return Error{fmt::format(f, std::forward<Args>(args)...)};
}

// A value or an Error. Small on purpose: ok(), value(), error().
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Error& error() const { return std::get<1>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

 private:
  std::variant<T, Error> v_;
};

// Success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : e_(std::move(error)) {}  // NOLINT
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *e_; }

 private:
  std::optional<Error> e_;
};

}  // namespace dsv3

#define DSV3_CONCAT_INNER(a, b) a##b
#define DSV3_CONCAT(a, b) DSV3_CONCAT_INNER(a, b)

// Evaluates a Status expression; returns its Error from the caller on failure.
#define DSV3_RETURN_IF_ERROR(expr)               \
  do {                                           \
    auto dsv3_status_ = (expr);                  \
    if (!dsv3_status_.ok()) return dsv3_status_.error(); \
  } while (0)

// `DSV3_ASSIGN_OR_RETURN(auto x, f())`: binds the value or returns the Error.
#define DSV3_ASSIGN_OR_RETURN(decl, expr) \
  DSV3_ASSIGN_OR_RETURN_IMPL(DSV3_CONCAT(dsv3_result_, __LINE__), decl, expr)
#define DSV3_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.error();                \
  decl = std::move(tmp).value()
