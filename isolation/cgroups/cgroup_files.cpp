#include "isolation/cgroups/cgroup_files.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <ctime>

#include "common/fd.hpp"
#include "common/fs.hpp"

namespace svc::isolation::cgroups {

namespace fs = std::filesystem;

Result<> check_relative(std::string_view relative, std::string_view what) {
  if (relative.empty()) return fail(Code::kInvalidArgument, "{} is empty", what);
  if (relative.size() > 1024)
    return fail(Code::kInvalidArgument, "{} is longer than 1024 characters", what);
  if (relative.front() == '/')
    return fail(Code::kInvalidArgument, "{} \"{}\" must be relative (no leading '/')", what,
                relative);
  for (char c : relative) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '/';
    if (!ok)
      return fail(Code::kInvalidArgument, "{} \"{}\" has a character outside [A-Za-z0-9._-/]", what,
                  relative);
  }
  std::size_t start = 0;
  while (start <= relative.size()) {
    std::size_t end = relative.find('/', start);
    if (end == std::string_view::npos) end = relative.size();
    std::string_view part = relative.substr(start, end - start);
    if (part.empty() || part == "." || part == "..")
      return fail(Code::kInvalidArgument, "{} \"{}\" has an empty, \".\" or \"..\" component", what,
                  relative);
    start = end + 1;
  }
  return {};
}

Result<> write_value(const fs::path& file, std::string_view value) {
  // O_TRUNC: harmless on cgroupfs (as a shell's "echo v > file"), and it keeps a fake tree's
  // regular file holding exactly the last value written.
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return fail_errno(fmt::format("open {} to write \"{}\"", file.string(), value));
  for (;;) {
    ssize_t n = ::write(fd.get(), value.data(), value.size());
    if (n >= 0) {
      if (static_cast<std::size_t>(n) != value.size())
        return fail(Code::kInternal, "write \"{}\" to {}: short write", value, file.string());
      return {};
    }
    if (errno != EINTR) return fail_errno(fmt::format("write \"{}\" to {}", value, file.string()));
  }
}

Result<std::string> read_value(const fs::path& file) {
  std::string text = SVC_TRY(read_file(file, 1 << 20));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

namespace {
std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}
}  // namespace

Result<std::uint64_t> read_u64(const fs::path& file) {
  std::string text = SVC_TRY(read_value(file));
  auto v = parse_u64(text);
  if (!v) return fail(Code::kDataLoss, "{}: expected a number, read \"{}\"", file.string(), text);
  return *v;
}

std::optional<std::uint64_t> find_keyed(std::string_view text, std::string_view key) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos || line.substr(0, sp) != key) continue;
    return parse_u64(line.substr(sp + 1));
  }
  return std::nullopt;
}

Result<std::uint64_t> read_keyed(const fs::path& file, std::string_view key) {
  std::string text = SVC_TRY(read_file(file, 1 << 20));
  auto v = find_keyed(text, key);
  if (!v) return fail(Code::kNotFound, "{}: no numeric \"{}\" line", file.string(), key);
  return *v;
}

bool file_exists(const fs::path& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0;
}

Result<std::vector<pid_t>> read_procs(const fs::path& procs_file) {
  std::string text = SVC_TRY(read_file(procs_file, 16 << 20));
  std::vector<pid_t> pids;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    auto v = parse_u64(line);
    if (!v || *v == 0 || *v > 0x7fffffff)
      return fail(Code::kDataLoss, "{}: \"{}\" is not a pid", procs_file.string(), line);
    pids.push_back(static_cast<pid_t>(*v));
  }
  return pids;
}

Result<> signal_all(const std::vector<pid_t>& pids, int sig) {
  for (pid_t pid : pids) {
    if (pid <= 0) continue;  // never kill(0) or kill(-1)
    if (::kill(pid, sig) != 0 && errno != ESRCH)
      return fail_errno(fmt::format("send signal {} to pid {}", sig, pid));
  }
  return {};
}

Result<> freeze_and_signal(const std::function<Result<bool>()>& freeze,
                           const std::function<Result<>()>& thaw, const fs::path& procs_file,
                           int sig) {
  for (int pass = 0; pass < 5; ++pass) {
    bool frozen = SVC_TRY(freeze());
    auto pids = read_procs(procs_file);
    Result<> sent = pids ? signal_all(*pids, sig) : tl::unexpected(pids.error());
    SVC_TRY(thaw());  // always, even when signalling failed: never leave a sandbox frozen
    SVC_TRY(std::move(sent));
    if (frozen || sig != SIGKILL || pids->empty()) return {};
  }
  return {};
}

Result<> signal_until_empty(const fs::path& procs_file, int sig) {
  constexpr int kPasses = 200;
  for (int pass = 0; pass < kPasses; ++pass) {
    auto pids = SVC_TRY(read_procs(procs_file));
    if (pids.empty()) return {};
    SVC_TRY(signal_all(pids, sig));
    if (sig != SIGKILL) return {};
    short_sleep(std::chrono::microseconds(1000));
  }
  return fail(Code::kDeadlineExceeded,
              "{}: processes still appearing after {} SIGKILL passes (no freezer to stop them "
              "forking)",
              procs_file.string(), kPasses);
}

CgroupFsOps with_defaults(CgroupFsOps ops) {
  if (!ops.make_dir)
    ops.make_dir = [](const fs::path& dir) { return ::mkdir(dir.c_str(), 0755) == 0 ? 0 : errno; };
  if (!ops.remove_dir)
    ops.remove_dir = [](const fs::path& dir) { return ::rmdir(dir.c_str()) == 0 ? 0 : errno; };
  return ops;
}

Result<> make_dirs_below(const fs::path& from, const fs::path& to, const CgroupFsOps& ops) {
  fs::path rel = to.lexically_relative(from);
  if (rel.empty() || rel.native().starts_with(".."))
    return fail(Code::kInternal, "{} is not below {}", to.string(), from.string());
  fs::path cur = from;
  for (const auto& part : rel) {
    cur /= part;
    int err = ops.make_dir(cur);
    if (err != 0 && err != EEXIST)
      return fail_errno(err, fmt::format("create cgroup {}", cur.string()));
  }
  return {};
}

Result<> remove_dir_retrying(const fs::path& dir, const CgroupFsOps& ops,
                             std::chrono::milliseconds budget) {
  int err = 0;
  poll_until(
      [&] {
        err = ops.remove_dir(dir);
        return err != EBUSY;
      },
      budget);
  if (err == 0 || err == ENOENT) return {};
  if (err == EBUSY)
    return fail(Code::kFailedPrecondition,
                "remove cgroup {}: still busy after {} ms (processes left in it? call kill_all "
                "first)",
                dir.string(), budget.count());
  return fail_errno(err, fmt::format("remove cgroup {}", dir.string()));
}

void short_sleep(std::chrono::microseconds d) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(d.count() / 1'000'000);
  ts.tv_nsec = static_cast<long>((d.count() % 1'000'000) * 1000);
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

}  // namespace svc::isolation::cgroups
