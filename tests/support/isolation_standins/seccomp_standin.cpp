// Test-only stand-in for the seccomp interface (see README.md): a deny-list default profile and a
// libseccomp compiler, enough to exercise the runtime until the real allow-list is merged.
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "isolation/seccomp/seccomp.hpp"

namespace svc::isolation::seccomp {

const Profile& default_profile() {
  static const Profile p = [] {
    Profile d;
    d.default_action = Action::kAllow;
    Rule deny;
    deny.action = Action::kErrno;
    deny.errno_value = 1;
    deny.names = {"mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key",
                  "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "kexec_load",
                  "init_module", "finit_module", "delete_module", "open_by_handle_at", "reboot",
                  "fsopen", "fsmount", "move_mount", "open_tree", "pivot_root"};
    d.rules.push_back(deny);
    Rule clone3;
    clone3.names = {"clone3"};
    clone3.action = Action::kErrno;
    clone3.errno_value = 38;  // ENOSYS
    d.rules.push_back(clone3);
    Rule clone_ns;
    clone_ns.names = {"clone"};
    clone_ns.action = Action::kErrno;
    clone_ns.errno_value = 1;
    std::uint64_t ns = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                       CLONE_NEWNET | CLONE_NEWCGROUP;
    clone_ns.args.push_back({0, ArgCondition::Op::kMaskedEq, ns, 0});
    // allowed when (flags & ns) == 0: add an allow rule for that and deny otherwise.
    d.rules.push_back(clone_ns);
    return d;
  }();
  return p;
}

Result<Profile> parse_oci_profile(std::string_view json) {
  try {
    auto j = nlohmann::json::parse(json);
    Profile p;
    auto action = [](const std::string& a) {
      if (a == "SCMP_ACT_ALLOW") return Action::kAllow;
      if (a == "SCMP_ACT_KILL" || a == "SCMP_ACT_KILL_THREAD") return Action::kKill;
      if (a == "SCMP_ACT_KILL_PROCESS") return Action::kKillProcess;
      if (a == "SCMP_ACT_TRAP") return Action::kTrap;
      if (a == "SCMP_ACT_LOG") return Action::kLog;
      return Action::kErrno;
    };
    p.default_action = action(j.value("defaultAction", std::string("SCMP_ACT_ERRNO")));
    p.default_errno = j.value("defaultErrnoRet", 1);
    for (const auto& s : j.value("syscalls", nlohmann::json::array())) {
      Rule r;
      r.names = s.value("names", std::vector<std::string>());
      r.action = action(s.value("action", std::string("SCMP_ACT_ERRNO")));
      r.errno_value = s.value("errnoRet", 1);
      p.rules.push_back(r);
    }
    return p;
  } catch (const std::exception& e) {
    return fail(Code::kInvalidArgument, "seccomp profile: {}", e.what());
  }
}

std::string to_oci_json(const Profile& p) {
  auto name = [](Action a) {
    switch (a) {
      case Action::kAllow: return "SCMP_ACT_ALLOW";
      case Action::kErrno: return "SCMP_ACT_ERRNO";
      case Action::kKill: return "SCMP_ACT_KILL";
      case Action::kKillProcess: return "SCMP_ACT_KILL_PROCESS";
      case Action::kTrap: return "SCMP_ACT_TRAP";
      case Action::kLog: return "SCMP_ACT_LOG";
    }
    return "SCMP_ACT_ERRNO";
  };
  nlohmann::json j = {{"defaultAction", name(p.default_action)}, {"syscalls", nlohmann::json::array()}};
  for (const auto& r : p.rules)
    j["syscalls"].push_back({{"names", r.names}, {"action", name(r.action)}, {"errnoRet", r.errno_value}});
  return j.dump();
}

struct Compiler::Impl {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<const Program>> cache;
};

Compiler::Compiler(std::filesystem::path) : impl_(std::make_unique<Impl>()) {}
Compiler::~Compiler() = default;

namespace {
std::uint32_t scmp(Action a, int err) {
  switch (a) {
    case Action::kAllow: return SCMP_ACT_ALLOW;
    case Action::kErrno: return SCMP_ACT_ERRNO(static_cast<std::uint16_t>(err));
    case Action::kKill: return SCMP_ACT_KILL;
    case Action::kKillProcess: return SCMP_ACT_KILL_PROCESS;
    case Action::kTrap: return SCMP_ACT_TRAP;
    case Action::kLog: return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL;
}
}  // namespace

Result<std::shared_ptr<const Program>> Compiler::compile(const Profile& p) {
  std::string key = to_oci_json(p);
  for (const auto& r : p.rules)
    for (const auto& a : r.args) key += std::to_string(a.index) + ":" + std::to_string(a.value);
  std::lock_guard lock(impl_->mu);
  if (auto it = impl_->cache.find(key); it != impl_->cache.end()) return it->second;
  scmp_filter_ctx ctx = seccomp_init(scmp(p.default_action, p.default_errno));
  if (!ctx) return fail(Code::kInternal, "seccomp_init");
  seccomp_arch_add(ctx, SCMP_ARCH_X86);
  seccomp_arch_add(ctx, SCMP_ARCH_X32);
  for (const auto& r : p.rules) {
    for (const auto& n : r.names) {
      int nr = seccomp_syscall_resolve_name(n.c_str());
      if (nr == __NR_SCMP_ERROR) continue;
      std::vector<scmp_arg_cmp> cmps;
      for (const auto& a : r.args)
        if (a.op == ArgCondition::Op::kMaskedEq)
          cmps.push_back(SCMP_CMP(a.index, SCMP_CMP_MASKED_EQ, a.value, a.value_two));
      if (!cmps.empty() && r.action == Action::kErrno) {
        // deny when any namespace flag is set: one rule per flag bit.
        for (int bit = 0; bit < 64; ++bit) {
          std::uint64_t m = 1ull << bit;
          if (!(cmps[0].datum_a & m)) continue;
          scmp_arg_cmp c = SCMP_CMP(cmps[0].arg, SCMP_CMP_MASKED_EQ, m, m);
          seccomp_rule_add_array(ctx, scmp(r.action, r.errno_value), nr, 1, &c);
        }
        continue;
      }
      seccomp_rule_add_array(ctx, scmp(r.action, r.errno_value), nr,
                             static_cast<unsigned>(cmps.size()), cmps.data());
    }
  }
  int memfd = memfd_create("bpf", MFD_CLOEXEC);
  int rc = seccomp_export_bpf(ctx, memfd);
  seccomp_release(ctx);
  if (rc != 0) {
    close(memfd);
    return fail(Code::kInternal, "seccomp_export_bpf: {}", rc);
  }
  off_t size = lseek(memfd, 0, SEEK_END);
  auto prog = std::make_shared<Program>();
  prog->filter.resize(static_cast<std::size_t>(size) / sizeof(sock_filter));
  pread(memfd, prog->filter.data(), static_cast<std::size_t>(size), 0);
  close(memfd);
  prog->key = key;
  impl_->cache[key] = prog;
  return std::shared_ptr<const Program>(prog);
}

int load(const Program& program, bool tsync) noexcept {
  struct sock_fprog fprog;
  fprog.len = static_cast<unsigned short>(program.filter.size());
  fprog.filter = const_cast<sock_filter*>(program.filter.data());
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, tsync ? SECCOMP_FILTER_FLAG_TSYNC : 0, &fprog);
  return rc == 0 ? 0 : -errno;
}

}  // namespace svc::isolation::seccomp
