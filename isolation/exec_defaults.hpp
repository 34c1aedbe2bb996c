#pragma once
// <sandbox>/process.json and <sandbox>/seccomp.bpf: what a process exec'd into a running sandbox
// gets unless the exec says otherwise: the first process's credentials, capabilities,
// environment, working directory, limits, no_new_privs and the very seccomp filter it runs
// under, as the runtime applied them at create. Written once by create, root-owned, in the
// root-owned sandbox dir: nothing in the sandbox can change what a later exec applies.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "isolation/plan.hpp"
#include "isolation/sandbox_spec.hpp"
#include "isolation/seccomp/seccomp.hpp"

namespace svc::isolation {

inline constexpr const char kExecDefaultsFile[] = "process.json";
inline constexpr const char kSeccompFile[] = "seccomp.bpf";

struct ExecDefaults {
  std::vector<std::string> env;
  std::string cwd = "/";
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::vector<std::uint32_t> groups;
  CapabilitySets caps;
  std::vector<Rlimit> rlimits;  // as applied: clamped to the host's hard limits
  bool no_new_privs = true;
  int cap_last_cap = 40;
  bool seccomp = false;  // seccomp.bpf holds the filter
  // The image's layers (bottom -> top): user names of an exec are looked up in them.
  std::vector<std::filesystem::path> layers;
  bool operator==(const ExecDefaults&) const = default;
};

// From the plan create applied (the first process's part of it).
ExecDefaults exec_defaults_from_plan(const Plan& plan, const SandboxSpec& spec);

Result<> write_exec_defaults(const std::filesystem::path& dir, const ExecDefaults& defaults,
                             const seccomp::Program* program);
// NOT_FOUND for a sandbox made before exec existed (no process.json).
Result<ExecDefaults> read_exec_defaults(const std::filesystem::path& dir);
// The filter of seccomp.bpf (checked: magic, size, digest of the instructions).
Result<std::shared_ptr<const seccomp::Program>> read_exec_seccomp(const std::filesystem::path& dir);

// JSON text of the defaults (for tests and the fuzzer) and back.
std::string exec_defaults_json(const ExecDefaults& defaults);
Result<ExecDefaults> parse_exec_defaults(std::string_view json);

}  // namespace svc::isolation
