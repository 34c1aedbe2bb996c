#pragma once
// Lets Catch2 print a failed svc::Result as its error ("NOT_FOUND: open /x: No such file..."),
// so a failed REQUIRE(result) says why instead of "{?}".
#include <string>

#include <catch2/catch.hpp>

#include "common/result.hpp"

namespace Catch {
template <class T>
struct StringMaker<tl::expected<T, svc::Error>> {
  static std::string convert(const tl::expected<T, svc::Error>& r) {
    if (r) return "ok";
    return std::string(svc::code_name(r.error().code())) + ": " + r.error().message();
  }
};
}  // namespace Catch
