#include "isolation/exec_plan.hpp"

#include <sched.h>
#include <sys/stat.h>

namespace svc::isolation {

namespace {

constexpr const char* kNsNames[7] = {"user", "mnt", "uts", "ipc", "net", "cgroup", "pid"};
constexpr unsigned long kNsFlags[7] = {CLONE_NEWUSER, CLONE_NEWNS,     CLONE_NEWUTS, CLONE_NEWIPC,
                                       CLONE_NEWNET,  CLONE_NEWCGROUP, CLONE_NEWPID};

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

std::string key_of(const std::string& kv) { return kv.substr(0, kv.find('=')); }

}  // namespace

unsigned long namespaces_to_join(const NamespaceFacts& f) {
  unsigned long flags = 0;
  for (int i = 0; i < 7; ++i)
    if (!(f.task[i] == f.self[i])) flags |= kNsFlags[i];
  return flags;
}

Result<NamespaceFacts> read_namespace_facts(const std::filesystem::path& proc, int pid) {
  NamespaceFacts f;
  for (int i = 0; i < 7; ++i) {
    struct stat st {};
    auto task = proc / std::to_string(pid) / "ns" / kNsNames[i];
    if (::stat(task.c_str(), &st) != 0) return fail_errno("stat " + task.string());
    f.task[i] = {static_cast<unsigned long long>(st.st_dev),
                 static_cast<unsigned long long>(st.st_ino)};
    auto self = proc / "self/ns" / kNsNames[i];
    if (::stat(self.c_str(), &st) != 0) return fail_errno("stat " + self.string());
    f.self[i] = {static_cast<unsigned long long>(st.st_dev),
                 static_cast<unsigned long long>(st.st_ino)};
  }
  return f;
}

Result<ExecPlan> plan_exec(const ExecSpec& spec, const ExecDefaults& d,
                           const std::optional<ResolvedUser>& user, unsigned long setns_flags) {
  if (spec.args.empty() || spec.args[0].empty())
    return fail(Code::kInvalidArgument, "args: give the program to run (e.g. sh)");
  for (const auto& a : spec.args)
    if (has_nul(a)) return fail(Code::kInvalidArgument, "args: an argument contains a NUL byte");
  ExecPlan p;
  p.argv = spec.args;
  p.env = d.env;
  for (const auto& kv : spec.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0 || has_nul(kv))
      return fail(Code::kInvalidArgument, "env: \"{}\" is not NAME=VALUE", kv);
    bool replaced = false;
    for (auto& existing : p.env)
      if (key_of(existing) == kv.substr(0, eq)) {
        existing = kv;
        replaced = true;
      }
    if (!replaced) p.env.push_back(kv);
  }
  p.path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& kv : p.env)
    if (key_of(kv) == "PATH") p.path = kv.substr(5);
  p.cwd = spec.cwd.empty() ? d.cwd : spec.cwd;
  if (p.cwd[0] != '/' || has_nul(p.cwd))
    return fail(Code::kInvalidArgument, "workdir: \"{}\" is not an absolute path", p.cwd);
  if (p.cwd.starts_with("/proc/") || p.cwd == "/proc")
    return fail(Code::kInvalidArgument, "workdir: \"{}\" is under /proc; refused", p.cwd);
  p.uid = user ? user->uid : d.uid;
  p.gid = user ? user->gid : d.gid;
  p.groups = user ? user->groups : d.groups;
  p.caps = spec.capabilities.value_or(d.caps);
  // Never more than the task could ever have: an exec gets no capability outside its bounding set.
  p.caps.bounding &= d.caps.bounding;
  p.caps.effective &= p.caps.bounding;
  p.caps.permitted &= p.caps.bounding;
  p.caps.inheritable &= p.caps.bounding;
  p.caps.ambient &= p.caps.permitted & p.caps.inheritable;
  p.rlimits = d.rlimits;
  p.no_new_privs = spec.no_new_privs.value_or(d.no_new_privs);
  // A task under no_new_privs cannot have an exec without it: it could gain what the task can't.
  if (d.no_new_privs) p.no_new_privs = true;
  p.cap_last_cap = d.cap_last_cap;
  p.terminal = spec.terminal;
  p.console_rows = spec.console_rows;
  p.console_cols = spec.console_cols;
  p.setns_flags = setns_flags;
  return p;
}

}  // namespace svc::isolation
