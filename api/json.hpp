#pragma once
// Protobuf's JSON mapping with svc's options, shared by REST and svctl -o json.
#include <string>
#include <string_view>

#include <google/protobuf/message.h>

#include "common/result.hpp"

namespace svc::api {

// lowerCamelCase names, enums as names, zero values printed so every field a script reads is
// there; unset optional fields (such as exitCode before a task stops) are left out.
std::string to_json(const google::protobuf::Message& message, bool pretty = false);

// Strict: unknown fields and wrong types are INVALID_ARGUMENT errors that name the field.
Result<> from_json(std::string_view json, google::protobuf::Message* message);

// {"code": "NOT_FOUND", "message": "..."}
std::string error_json(const Error& error);

}  // namespace svc::api
