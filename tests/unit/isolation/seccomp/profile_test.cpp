#include <sched.h>

#include <algorithm>

#include <catch2/catch.hpp>

#include "../result_maker.hpp"
#include "isolation/seccomp/seccomp.hpp"

using namespace svc;
using namespace svc::isolation::seccomp;

namespace {

// The rules that would let `name` through (action allow), with or without conditions.
std::vector<const Rule*> allowing(const Profile& p, const std::string& name) {
  std::vector<const Rule*> out;
  for (const auto& r : p.rules)
    if (r.action == Action::kAllow && std::count(r.names.begin(), r.names.end(), name))
      out.push_back(&r);
  return out;
}

bool same(const Profile& a, const Profile& b) {
  if (a.default_action != b.default_action || a.default_errno != b.default_errno ||
      a.architectures != b.architectures || a.rules.size() != b.rules.size())
    return false;
  for (std::size_t i = 0; i < a.rules.size(); ++i) {
    const Rule &x = a.rules[i], &y = b.rules[i];
    if (x.names != y.names || x.action != y.action || x.why != y.why ||
        x.args.size() != y.args.size())
      return false;
    if (x.action == Action::kErrno && x.errno_value != y.errno_value) return false;
    for (std::size_t k = 0; k < x.args.size(); ++k)
      if (x.args[k].index != y.args[k].index || x.args[k].op != y.args[k].op ||
          x.args[k].value != y.args[k].value || x.args[k].value_two != y.args[k].value_two)
        return false;
  }
  return true;
}

}  // namespace

TEST_CASE("default profile: an allow-list that lets none of the dangerous calls through",
          "[seccomp]") {
  const Profile& p = default_profile();
  CHECK(p.default_action == Action::kErrno);
  CHECK(p.default_errno == EPERM);
  for (const char* name : {"mount",
                           "umount2",
                           "fsopen",
                           "fsconfig",
                           "fsmount",
                           "fspick",
                           "move_mount",
                           "open_tree",
                           "mount_setattr",
                           "pivot_root",
                           "unshare",
                           "setns",
                           "clone3",
                           "keyctl",
                           "add_key",
                           "request_key",
                           "bpf",
                           "perf_event_open",
                           "userfaultfd",
                           "io_uring_setup",
                           "io_uring_enter",
                           "io_uring_register",
                           "kexec_load",
                           "kexec_file_load",
                           "init_module",
                           "finit_module",
                           "delete_module",
                           "open_by_handle_at",
                           "name_to_handle_at",
                           "reboot",
                           "swapon",
                           "swapoff",
                           "acct",
                           "lookup_dcookie",
                           "ptrace",
                           "settimeofday",
                           "clock_settime",
                           "adjtimex",
                           "iopl",
                           "ioperm",
                           "syslog",
                           "quotactl",
                           "nfsservctl",
                           "vhangup",
                           "uselib",
                           "ustat",
                           "sysfs",
                           "_sysctl"}) {
    INFO(name);
    CHECK(allowing(p, name).empty());
  }
  // clone only without namespace flags; personality only for safe values.
  auto clone = allowing(p, "clone");
  REQUIRE(clone.size() == 1);
  REQUIRE(clone[0]->args.size() == 1);
  CHECK(clone[0]->args[0].index == 0);
  CHECK(clone[0]->args[0].op == ArgCondition::Op::kMaskedEq);
  CHECK(clone[0]->args[0].value == 0x7E020000u);
  CHECK(clone[0]->args[0].value_two == 0u);
  for (std::uint64_t flag : {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS,
                             CLONE_NEWIPC, CLONE_NEWCGROUP})
    CHECK((clone[0]->args[0].value & flag) == flag);
  auto personality = allowing(p, "personality");
  CHECK(personality.size() == 5);
  for (const Rule* r : personality) {
    REQUIRE(r->args.size() == 1);
    CHECK(r->args[0].op == ArgCondition::Op::kEq);
    if (r->args[0].value == 0xffffffffu) continue;  // the query form: changes nothing
    CHECK((r->args[0].value & 0x0400000u) == 0u);   // never READ_IMPLIES_EXEC
    CHECK((r->args[0].value & 0x0040000u) == 0u);   // never ADDR_NO_RANDOMIZE
  }
  // clone3 is refused with ENOSYS (so libc falls back to clone), not EPERM.
  bool clone3_enosys = false;
  for (const auto& r : p.rules)
    if (std::count(r.names.begin(), r.names.end(), "clone3"))
      clone3_enosys = r.action == Action::kErrno && r.errno_value == ENOSYS;
  CHECK(clone3_enosys);
  // Ordinary programs' needs are there.
  for (const char* name : {"read", "write", "openat", "execve", "fork", "futex", "mmap",
                           "epoll_wait", "socket", "connect", "getpid", "exit_group", "wait4"}) {
    INFO(name);
    CHECK_FALSE(allowing(p, name).empty());
  }
  for (const auto& r : p.rules) {
    INFO(r.names.front());
    CHECK_FALSE(r.why.empty());
  }
}

TEST_CASE("default profile: every ABI of the host is filtered", "[seccomp]") {
  const Profile& p = default_profile();
  CHECK(p.architectures == native_architectures());
#if defined(__x86_64__)
  CHECK(p.architectures ==
        std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"});
#endif
}

TEST_CASE("profiles round-trip through OCI JSON", "[seccomp]") {
  const Profile& p = default_profile();
  std::string text = to_oci_json(p);
  auto back = parse_oci_profile(text);
  REQUIRE(back);
  CHECK(same(p, *back));
  CHECK(to_oci_json(*back) == text);
  CHECK(profile_key(*back) == profile_key(p));
  CHECK(text.find("\"SCMP_CMP_MASKED_EQ\"") != std::string::npos);
  CHECK(text.find("\"errnoRet\": 38") != std::string::npos);
}

TEST_CASE("OCI JSON: fields, defaults and a whole config.json", "[seccomp]") {
  auto p = parse_oci_profile(R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
    "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    "syscalls": [
      {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO"},
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
      {"names": ["mmap"], "action": "SCMP_ACT_KILL_THREAD",
       "args": [{"index": 2, "value": 4, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}],
       "comment": "no PROT_EXEC"}
    ]})");
  REQUIRE(p);
  CHECK(p->default_errno == 38);
  CHECK(p->architectures.size() == 2);
  REQUIRE(p->rules.size() == 4);
  CHECK(p->rules[1].errno_value == EPERM);  // errnoRet defaults to EPERM
  CHECK(p->rules[2].args[0].value == 4294967295u);
  CHECK(p->rules[3].action == Action::kKill);
  CHECK(p->rules[3].args[0].value_two == 4u);
  CHECK(p->rules[3].why == "no PROT_EXEC");

  auto config = parse_oci_profile(R"({"ociVersion": "1.0.2", "linux": {"seccomp":
      {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"],
      "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}}})");
  REQUIRE(config);
  CHECK(config->default_action == Action::kAllow);
  CHECK(config->rules.at(0).errno_value == 13);
}

TEST_CASE("OCI JSON: mistakes are INVALID_ARGUMENT naming the field", "[seccomp]") {
  struct Case {
    const char* json;
    const char* field;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"{", "not valid JSON"},
           {"[]", "top level"},
           {R"({"syscalls": []})", "defaultAction"},
           {R"({"defaultAction": "SCMP_ACT_MAYBE"})", "defaultAction"},
           {R"({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": -1})", "defaultErrnoRet"},
           {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]})",
            "architectures[0]"},
           {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
               "action": "SCMP_ACT_FOO"}]})",
            "syscalls[0].action"},
           {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
               "action": "SCMP_ACT_TRACE"}]})",
            "syscalls[0].action"},
           {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]})",
            "syscalls[0].names"},
           {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{}, {"names": ["read"],
               "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1,
               "op": "SCMP_CMP_ROUGHLY"}]}]})",
            "syscalls[0].names"},
           {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
               "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1,
               "op": "SCMP_CMP_ROUGHLY"}]}]})",
            "syscalls[0].args[0].op"},
           {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
               "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]})",
            "syscalls[0].args[0].index"},
           {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [1],
               "action": "SCMP_ACT_ALLOW"}]})",
            "syscalls[0].names[0]"},
       }) {
    INFO(c.json);
    auto r = parse_oci_profile(c.json);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kInvalidArgument);
    CHECK_THAT(r.error().message(), Catch::Contains(c.field));
  }
}

TEST_CASE("Docker-style profiles: archMap and includes/excludes for this host", "[seccomp]") {
  constexpr const char* kDocker = R"({
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [
      {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
      {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
      {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}],
    "syscalls": [
      {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
      {"names": ["fancy_new_call"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
      {"names": ["chroot"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_CHROOT"]}},
      {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
      {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
      {"names": ["s390_pci_mmio_read"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["s390x"]}}
    ]})";
  auto without_caps = parse_oci_profile(kDocker);
  REQUIRE(without_caps);
  auto with_caps = parse_oci_profile(kDocker, {"CAP_SYS_CHROOT", "CAP_SYS_ADMIN"});
  REQUIRE(with_caps);
  auto names = [](const Profile& p) {
    std::vector<std::string> out;
    for (const auto& r : p.rules) out.push_back(r.names.front());
    return out;
  };
#if defined(__x86_64__)
  CHECK(without_caps->architectures ==
        std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"});
  CHECK(names(*without_caps) == std::vector<std::string>{"read", "ptrace", "clone", "arch_prctl"});
  CHECK(names(*with_caps) == std::vector<std::string>{"read", "ptrace", "chroot", "arch_prctl"});
#endif
}
