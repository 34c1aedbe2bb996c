#pragma once
// Text from sandboxes (log lines) must be valid UTF-8 in a proto string field.
#include <string>
#include <string_view>

namespace svc::api {

// Invalid bytes (and overlong forms, surrogates) become U+FFFD.
std::string valid_utf8(std::string_view in);

}  // namespace svc::api
