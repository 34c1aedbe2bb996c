#pragma once
// The error idiom for all of svc: fallible functions return Result<T>, an Error carries a code
// (the category a caller or the API edge acts on), the errno when a syscall failed, and a message
// that grows context on the way up: "pull alpine: fetch layer sha256:ab..: connection reset".
#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <tl/expected.hpp>

namespace svc {

// Categories, not causes: they decide what a caller does (retry, report, refuse) and map 1:1 to
// gRPC status codes at the API edge (api/server/status.cpp), so no other module needs gRPC.
enum class Code {
  kOk = 0,
  kCancelled,
  kUnknown,
  kInvalidArgument,
  kDeadlineExceeded,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kResourceExhausted,
  kFailedPrecondition,
  kAborted,
  kOutOfRange,
  kUnimplemented,
  kInternal,
  kUnavailable,
  kDataLoss,
  kUnauthenticated,
};

std::string_view code_name(Code code);

class Error {
 public:
  Error() = default;
  Error(Code code, std::string message, int sys_errno = 0)
      : code_(code), errno_(sys_errno), message_(std::move(message)) {}

  Code code() const { return code_; }
  int sys_errno() const { return errno_; }
  const std::string& message() const { return message_; }

  // Prepends "what: " so errors read outermost-first.
  Error& context(std::string_view what) & {
    message_ = fmt::format("{}: {}", what, message_);
    return *this;
  }
  Error&& context(std::string_view what) && {
    message_ = fmt::format("{}: {}", what, message_);
    return std::move(*this);
  }

 private:
  Code code_ = Code::kUnknown;
  int errno_ = 0;
  std::string message_;
};

template <class T = void>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(Code code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}

template <class... Args>
tl::unexpected<Error> fail(Code code, fmt::format_string<Args...> format, Args&&... args) {
  return tl::unexpected<Error>(Error(code, fmt::format(format, std::forward<Args>(args)...)));
}

// An error from a failed syscall: picks the category from errno and appends strerror.
Error sys_error(int err, std::string_view what);
inline tl::unexpected<Error> fail_errno(std::string_view what) {
  return tl::unexpected<Error>(sys_error(errno, what));
}
inline tl::unexpected<Error> fail_errno(int err, std::string_view what) {
  return tl::unexpected<Error>(sys_error(err, what));
}

namespace detail {
template <class T>
T take(tl::expected<T, Error>&& r) {
  return std::move(r).value();
}
inline void take(tl::expected<void, Error>&&) {}
template <class T>
T take(tl::expected<T, Error>& r) {
  return std::move(r).value();
}
inline void take(tl::expected<void, Error>&) {}
}  // namespace detail

}  // namespace svc

// SVC_TRY(expr): evaluates a Result; on error returns it from the enclosing function, otherwise
// yields the value. SVC_TRY_CTX adds context. Both use GNU statement expressions (g++, clang).
#define SVC_TRY(expr)                                                        \
  ({                                                                         \
    auto&& svc_try_r_ = (expr);                                              \
    if (!svc_try_r_) return ::tl::unexpected(std::move(svc_try_r_).error()); \
    ::svc::detail::take(std::move(svc_try_r_));                              \
  })

#define SVC_TRY_CTX(expr, ...)                                                                  \
  ({                                                                                            \
    auto&& svc_try_r_ = (expr);                                                                 \
    if (!svc_try_r_)                                                                            \
      return ::tl::unexpected(std::move(svc_try_r_).error().context(fmt::format(__VA_ARGS__))); \
    ::svc::detail::take(std::move(svc_try_r_));                                                 \
  })
