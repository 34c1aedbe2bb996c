#include "isolation/seccomp/profile_names.hpp"

#include <seccomp.h>

#include <cctype>

namespace svc::isolation::seccomp::names {

namespace {

struct ActionName {
  Action action;
  std::string_view name;
};
constexpr ActionName kActions[] = {
    {Action::kAllow, "SCMP_ACT_ALLOW"}, {Action::kErrno, "SCMP_ACT_ERRNO"},
    {Action::kKill, "SCMP_ACT_KILL"},   {Action::kKillProcess, "SCMP_ACT_KILL_PROCESS"},
    {Action::kTrap, "SCMP_ACT_TRAP"},   {Action::kLog, "SCMP_ACT_LOG"},
};

struct OpName {
  ArgCondition::Op op;
  std::string_view name;
};
constexpr OpName kOps[] = {
    {ArgCondition::Op::kEq, "SCMP_CMP_EQ"},
    {ArgCondition::Op::kNe, "SCMP_CMP_NE"},
    {ArgCondition::Op::kLt, "SCMP_CMP_LT"},
    {ArgCondition::Op::kLe, "SCMP_CMP_LE"},
    {ArgCondition::Op::kGt, "SCMP_CMP_GT"},
    {ArgCondition::Op::kGe, "SCMP_CMP_GE"},
    {ArgCondition::Op::kMaskedEq, "SCMP_CMP_MASKED_EQ"},
};

// Every architecture libseccomp 2.5 knows, in OCI spelling.
constexpr std::string_view kArches[] = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
};

}  // namespace

std::string_view action(Action a) {
  for (const auto& e : kActions)
    if (e.action == a) return e.name;
  return "SCMP_ACT_KILL";
}

std::optional<Action> parse_action(std::string_view s) {
  if (s == "SCMP_ACT_KILL_THREAD") return Action::kKill;
  for (const auto& e : kActions)
    if (e.name == s) return e.action;
  return std::nullopt;
}

std::string_view op(ArgCondition::Op o) {
  for (const auto& e : kOps)
    if (e.op == o) return e.name;
  return "SCMP_CMP_EQ";
}

std::optional<ArgCondition::Op> parse_op(std::string_view s) {
  for (const auto& e : kOps)
    if (e.name == s) return e.op;
  return std::nullopt;
}

std::optional<std::uint32_t> arch_token(std::string_view oci_name) {
  constexpr std::string_view kPrefix = "SCMP_ARCH_";
  if (!oci_name.starts_with(kPrefix)) return std::nullopt;
  std::string lower;
  for (char c : oci_name.substr(kPrefix.size()))
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::uint32_t token = seccomp_arch_resolve_name(lower.c_str());
  if (token == 0) return std::nullopt;
  return token;
}

std::string native_arch() {
  std::uint32_t native = seccomp_arch_native();
  for (auto name : kArches)
    if (arch_token(name) == native) return std::string(name);
  return "SCMP_ARCH_NATIVE";
}

}  // namespace svc::isolation::seccomp::names
