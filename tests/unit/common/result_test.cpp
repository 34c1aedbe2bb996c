#include <catch2/catch.hpp>

#include "common/result.hpp"

using namespace svc;

namespace {
Result<int> parse_positive(int v) {
  if (v <= 0) return fail(Code::kInvalidArgument, "{} is not positive", v);
  return v;
}
Result<int> doubled(int v) {
  int x = SVC_TRY_CTX(parse_positive(v), "doubling {}", v);
  return 2 * x;
}
Result<> check(int v) {
  SVC_TRY(parse_positive(v));
  return {};
}
}  // namespace

TEST_CASE("SVC_TRY passes values through and errors up with context", "[result]") {
  CHECK(doubled(4).value() == 8);
  auto r = doubled(-1);
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kInvalidArgument);
  CHECK(r.error().message() == "doubling -1: -1 is not positive");
  CHECK(check(1));
  CHECK_FALSE(check(0));
}

TEST_CASE("errno maps to a category", "[result]") {
  CHECK(sys_error(ENOENT, "open x").code() == Code::kNotFound);
  CHECK(sys_error(EACCES, "open x").code() == Code::kPermissionDenied);
  CHECK(sys_error(ENOSPC, "write x").code() == Code::kResourceExhausted);
  CHECK(sys_error(ENOENT, "open x").message() == "open x: No such file or directory");
  CHECK(sys_error(ENOENT, "open x").sys_errno() == ENOENT);
  CHECK(code_name(Code::kNotFound) == "NOT_FOUND");
}
