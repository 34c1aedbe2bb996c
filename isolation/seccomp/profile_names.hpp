#pragma once
// Internal to isolation/seccomp: the OCI/libseccomp spellings of actions, comparison operators
// and architectures, shared by the JSON reader/writer and the compiler.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "isolation/seccomp/seccomp.hpp"

namespace svc::isolation::seccomp::names {

std::string_view action(Action a);                       // "SCMP_ACT_ALLOW", ...
std::optional<Action> parse_action(std::string_view s);  // also SCMP_ACT_KILL_THREAD
std::string_view op(ArgCondition::Op o);                 // "SCMP_CMP_EQ", ...
std::optional<ArgCondition::Op> parse_op(std::string_view s);

// libseccomp's token for an OCI architecture name ("SCMP_ARCH_X86_64"), or nullopt.
std::optional<std::uint32_t> arch_token(std::string_view oci_name);
// The OCI name of the native architecture ("SCMP_ARCH_X86_64").
std::string native_arch();

}  // namespace svc::isolation::seccomp::names
