// Profile -> classic BPF with libseccomp, once per distinct profile (cached in memory and on
// disk), and load() — the one syscall a sandbox's child makes to install it.
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "common/digest.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "isolation/seccomp/profile_names.hpp"
#include "isolation/seccomp/seccomp.hpp"

namespace svc::isolation::seccomp {

namespace fs = std::filesystem;

namespace {

// Bump when the canonical text or the BPF produced for the same text changes meaning.
// 2: the i386 socketcall guard prefix; conditions repeated on one argument OR-ed.
constexpr std::string_view kKeyVersion = "svc-seccomp-2";
constexpr std::string_view kDiskMagic = "SVCBPF1\n";
constexpr std::size_t kMaxInstructions = 4096;  // BPF_MAXINSNS (linux/bpf_common.h)

std::uint32_t action_token(Action a, int err) {
  switch (a) {
    case Action::kAllow:
      return SCMP_ACT_ALLOW;
    case Action::kErrno:
      return SCMP_ACT_ERRNO(static_cast<std::uint32_t>(err));
    case Action::kKill:
      return SCMP_ACT_KILL_THREAD;
    case Action::kKillProcess:
      return SCMP_ACT_KILL_PROCESS;
    case Action::kTrap:
      return SCMP_ACT_TRAP;
    case Action::kLog:
      return SCMP_ACT_LOG;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare op_token(ArgCondition::Op op) {
  switch (op) {
    case ArgCondition::Op::kEq:
      return SCMP_CMP_EQ;
    case ArgCondition::Op::kNe:
      return SCMP_CMP_NE;
    case ArgCondition::Op::kLt:
      return SCMP_CMP_LT;
    case ArgCondition::Op::kLe:
      return SCMP_CMP_LE;
    case ArgCondition::Op::kGt:
      return SCMP_CMP_GT;
    case ArgCondition::Op::kGe:
      return SCMP_CMP_GE;
    case ArgCondition::Op::kMaskedEq:
      return SCMP_CMP_MASKED_EQ;
  }
  return SCMP_CMP_EQ;
}

std::vector<std::string> effective_architectures(const Profile& p) {
  std::vector<std::string> a = p.architectures.empty() ? native_architectures() : p.architectures;
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  return a;
}

std::string action_text(Action a, int err) {
  std::string s(names::action(a));
  if (a == Action::kErrno) s += fmt::format("({})", err);
  return s;
}

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

// A rule's conditions as libseccomp takes them: one list when every condition is on a different
// argument (all must hold), else one list per condition (any may hold). libseccomp refuses two
// conditions on one argument in a rule (EINVAL); runc and crun give such a Docker profile entry
// (personality with three SCMP_CMP_EQ on argument 0) the OR meaning by adding a rule per
// condition, and so does svc, so that a profile means the same under every runtime.
std::vector<std::vector<scmp_arg_cmp>> condition_sets(const Rule& rule) {
  std::vector<scmp_arg_cmp> all;
  bool repeated = false;
  unsigned seen = 0;
  for (const auto& a : rule.args) {
    if (seen & (1u << a.index)) repeated = true;
    seen |= 1u << a.index;
    all.push_back(scmp_arg_cmp{a.index, op_token(a.op), a.value, a.value_two});
  }
  if (!repeated) return {all};
  std::vector<std::vector<scmp_arg_cmp>> out;
  for (const auto& c : all) out.push_back({c});
  return out;
}

// socketcall(2) rules on argument 0 (the call number: SYS_SOCKET, SYS_BIND...), which
// libseccomp cannot take: on i386 it folds socketcall into its own rewriting of the socket calls
// (a rule on socket(2) also becomes one on socketcall(SYS_SOCKET), with the socket's conditions
// dropped, because socketcall's real arguments are in memory) and refuses a socketcall rule that
// disagrees with that rewriting (EEXIST). So "socket unless AF_VSOCK" let every
// socketcall(SYS_SOCKET) through, AF_VSOCK included. The compiler gives these rules their
// meaning itself, in a few instructions put before libseccomp's program (guard_prefix).
struct SocketcallRule {
  std::uint64_t call = 0;  // socketcall's argument 0
  std::uint32_t action = 0;
};

bool is_socketcall_guard(const Rule& r) {
  return std::count(r.names.begin(), r.names.end(), "socketcall") && r.args.size() == 1 &&
         r.args[0].index == 0 && r.args[0].op == ArgCondition::Op::kEq &&
         r.args[0].value <= 0xffffffffu;
}

// AUDIT_ARCH_I386 (linux/audit.h: EM_386 | __AUDIT_ARCH_LE) and i386's socketcall number.
constexpr std::uint32_t kAuditArchI386 = 0x40000003;
constexpr std::uint32_t kI386Socketcall = 102;

// if (arch == i386 && nr == socketcall) { if (a0 == c1) return act1; ... } then libseccomp's
// program. Offsets in struct seccomp_data: nr 0, arch 4, args[0] 16 (its low half on
// little-endian; a compat task's arguments are 32 bits). BPF jumps are relative and forward
// only, so the program after the prefix is unchanged by it.
std::vector<sock_filter> guard_prefix(const std::vector<SocketcallRule>& rules) {
  std::vector<sock_filter> f;
  if (rules.empty()) return f;
  const auto k = static_cast<std::uint8_t>(rules.size());
  const std::uint8_t past_rules = static_cast<std::uint8_t>(1 + 2 * k);  // from the nr test
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 4));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArchI386, 0,
                       static_cast<std::uint8_t>(past_rules + 2)));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kI386Socketcall, 0, past_rules));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 16));
  for (const auto& r : rules) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<std::uint32_t>(r.call), 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, r.action));
  }
  return f;
}

Result<std::vector<sock_filter>> build_bpf(const Profile& p) {
  const std::uint32_t default_action = action_token(p.default_action, p.default_errno);
  Ctx ctx(seccomp_init(default_action));
  if (!ctx) return fail(Code::kInvalidArgument, "seccomp: libseccomp refused the default action");
  // A syscall through an ABI the profile does not list: kill the process rather than let an
  // unfiltered ABI through.
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc < 0) return fail_errno(-rc, "seccomp: set the bad-architecture action");

  // A binary tree over syscall numbers instead of a linear list: fewer instructions on every
  // path, which is what the kernel walks both per syscall and when it pre-computes its
  // per-syscall action cache at load time (kernel/seccomp.c, seccomp_cache_prepare, 5.11+).
  rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (rc < 0) return fail_errno(-rc, "seccomp: ask for the binary-tree layout");

  const std::uint32_t native = seccomp_arch_native();
  bool native_listed = false, i386_listed = false;
  for (const auto& name : effective_architectures(p)) {
    auto token = names::arch_token(name);
    if (!token) return fail(Code::kInvalidArgument, "seccomp: unknown architecture \"{}\"", name);
    if (*token == SCMP_ARCH_X86) i386_listed = true;
    if (*token == native) {
      native_listed = true;
      continue;  // seccomp_init added it
    }
    rc = seccomp_arch_add(ctx.get(), *token);
    if (rc < 0 && rc != -EEXIST)
      return fail_errno(-rc, fmt::format("seccomp: add architecture {}", name));
  }
  if (!native_listed) {
    rc = seccomp_arch_remove(ctx.get(), SCMP_ARCH_NATIVE);
    if (rc < 0) return fail_errno(-rc, "seccomp: drop the native architecture");
  }

  std::vector<SocketcallRule> guards;
  for (const auto& rule : p.rules) {
    const std::uint32_t act = action_token(rule.action, rule.errno_value);
    if (act == default_action) continue;  // documentation only: libseccomp refuses these
    const bool guard = is_socketcall_guard(rule);
    if (guard && i386_listed) guards.push_back({rule.args[0].value, act});
    const auto sets = condition_sets(rule);
    for (const auto& name : rule.names) {
      if (guard && name == "socketcall") continue;
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: skipped, as runc does
      for (const auto& args : sets) {
        rc = seccomp_rule_add_array(ctx.get(), act, nr, static_cast<unsigned>(args.size()),
                                    args.data());
        if (rc < 0)
          return fail_errno(-rc, fmt::format("seccomp: rule {} for {}{}",
                                             action_text(rule.action, rule.errno_value), name,
                                             rule.why.empty() ? "" : " (" + rule.why + ")"));
      }
    }
  }

  // libseccomp 2.5 exports only to an fd (seccomp_export_bpf_mem arrived in 2.6).
  UniqueFd mem(::memfd_create("svc-seccomp-bpf", MFD_CLOEXEC));
  if (!mem) return fail_errno("seccomp: memfd_create for the BPF export");
  rc = seccomp_export_bpf(ctx.get(), mem.get());
  if (rc < 0) return fail_errno(-rc, "seccomp: export the BPF program");
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
    return fail(Code::kInternal, "seccomp: exported program has an odd size ({} bytes)", size);
  std::vector<sock_filter> filter = guard_prefix(guards);
  const std::size_t prefix = filter.size();
  filter.resize(prefix + static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(mem.get(), filter.data() + prefix, static_cast<std::size_t>(size), 0) != size)
    return fail_errno("seccomp: read back the BPF program");
  if (filter.size() > kMaxInstructions)
    return fail(Code::kInvalidArgument,
                "seccomp: the profile compiles to {} instructions, more than the kernel's {}",
                filter.size(), kMaxInstructions);
  return filter;
}

std::string_view bytes_of(const std::vector<sock_filter>& f) {
  return {reinterpret_cast<const char*>(f.data()), f.size() * sizeof(sock_filter)};
}

// <magic><sha256 hex>\n<program>
std::string disk_image(const std::vector<sock_filter>& f) {
  std::string out(kDiskMagic);
  out += Digest::sha256_of(bytes_of(f)).hex();
  out += '\n';
  out += bytes_of(f);
  return out;
}

std::optional<std::vector<sock_filter>> parse_disk_image(std::string_view data) {
  if (!data.starts_with(kDiskMagic)) return std::nullopt;
  data.remove_prefix(kDiskMagic.size());
  if (data.size() < 65 || data[64] != '\n') return std::nullopt;
  std::string_view hex = data.substr(0, 64), body = data.substr(65);
  if (body.empty() || body.size() % sizeof(sock_filter) != 0 ||
      body.size() / sizeof(sock_filter) > kMaxInstructions)
    return std::nullopt;
  if (Digest::sha256_of(body).hex() != hex) return std::nullopt;
  std::vector<sock_filter> f(body.size() / sizeof(sock_filter));
  std::memcpy(f.data(), body.data(), body.size());
  return f;
}

}  // namespace

std::string profile_key(const Profile& p) {
  const scmp_version* v = seccomp_version();
  std::string text =
      fmt::format("{}\nlibseccomp {}.{}.{}\n", kKeyVersion, v->major, v->minor, v->micro);
  for (const auto& a : effective_architectures(p)) text += fmt::format("arch {}\n", a);
  text += fmt::format("default {}\n", action_text(p.default_action, p.default_errno));
  for (const auto& r : p.rules) {
    text += fmt::format("rule {}", action_text(r.action, r.errno_value));
    for (const auto& n : r.names) text += " " + n;
    for (const auto& a : r.args)
      text += fmt::format(" [{} {} {} {}]", a.index, names::op(a.op), a.value, a.value_two);
    text += '\n';
  }
  return Digest::sha256_of(text).hex();
}

struct Compiler::Impl {
  fs::path cache_dir;
  mutable std::mutex mu;  // guards programs and stats; held across a compilation so that two
                          // callers with the same new profile compile it once
  std::unordered_map<std::string, std::shared_ptr<const Program>> programs;
  Stats stats;
};

Compiler::Compiler(fs::path cache_dir) : impl_(std::make_unique<Impl>()) {
  impl_->cache_dir = std::move(cache_dir);
}
Compiler::~Compiler() = default;

Compiler::Stats Compiler::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

Result<std::shared_ptr<const Program>> Compiler::compile(const Profile& profile) {
  std::string key = profile_key(profile);
  std::lock_guard lock(impl_->mu);
  if (auto it = impl_->programs.find(key); it != impl_->programs.end()) {
    ++impl_->stats.memory_hits;
    return it->second;
  }
  const fs::path file = impl_->cache_dir.empty() ? fs::path() : impl_->cache_dir / (key + ".bpf");
  if (!file.empty()) {
    auto data = read_file(file, 1 << 20);
    if (data) {
      if (auto filter = parse_disk_image(*data)) {
        auto program = std::make_shared<const Program>(Program{std::move(*filter), key});
        impl_->programs.emplace(key, program);
        ++impl_->stats.disk_hits;
        return program;
      }
      // A damaged or foreign file: recompile and replace it below.
    }
  }
  auto filter = SVC_TRY(build_bpf(profile));
  ++impl_->stats.compilations;
  if (!file.empty()) {
    // The disk cache saves a restarted daemon some milliseconds per profile; failing to write
    // it must not stop a sandbox from starting.
    auto written = make_dirs(impl_->cache_dir, 0700).and_then([&] {
      return write_file_atomic(file, disk_image(filter), 0600);
    });
    if (!written) {
      ++impl_->stats.cache_write_errors;
      spdlog::warn("seccomp: cannot cache the compiled profile in {}: {}",
                   impl_->cache_dir.string(), written.error().message());
    }
  }
  auto program = std::make_shared<const Program>(Program{std::move(filter), key});
  impl_->programs.emplace(key, program);
  return program;
}

int load(const Program& program, bool tsync) noexcept {
  if (program.filter.empty() || program.filter.size() > kMaxInstructions) return -EINVAL;
  struct sock_fprog prog {};
  prog.len = static_cast<unsigned short>(program.filter.size());
  prog.filter = const_cast<sock_filter*>(program.filter.data());  // the kernel only reads it
  unsigned int flags = tsync ? SECCOMP_FILTER_FLAG_TSYNC : 0;
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc == 0) return 0;
  if (rc > 0) return -ESRCH;  // TSYNC: rc is the id of a thread that could not be synchronised
  return -errno;
}

}  // namespace svc::isolation::seccomp
