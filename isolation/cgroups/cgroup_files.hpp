#pragma once
// Small file-level helpers the cgroup drivers share: writing and reading control files, parsing
// the kernel's "key value" files, validating names, and the bounded waits (rmdir while the last
// tasks leave, freezing). Plain file I/O on purpose, not libcgroup: the drivers need a few dozen
// reads and writes at paths they compute, must run against a fake tree in a temp dir (libcgroup
// finds hierarchies itself through /proc/mounts), and must report which file refused what.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "common/result.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"

namespace svc::isolation::cgroups {

// The sub-directories of dir, by name; empty when dir does not exist.
inline Result<std::vector<std::string>> list_child_dirs(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return fail(Code::kInternal, "list cgroup {}: {}", dir.string(), ec.message());
  }
  for (const auto& e : it)
    if (e.is_directory(ec) && !e.is_symlink(ec)) out.push_back(e.path().filename().string());
  return out;
}

// "a/b-1" is fine; "", "/a", "a/../b", "a//b", "./a", "a b" are INVALID_ARGUMENT.
Result<> check_relative(std::string_view relative, std::string_view what = "cgroup name");

// Writes value to an existing control file (no O_CREAT: a missing file means the controller is
// absent, which the caller must hear about). The error names the file and the value.
Result<> write_value(const std::filesystem::path& file, std::string_view value);
// The file's content without the trailing newline.
Result<std::string> read_value(const std::filesystem::path& file);
Result<std::uint64_t> read_u64(const std::filesystem::path& file);
// The number after `key` in a file of "key value" lines (memory.oom_control, cpu.stat,
// memory.events, cgroup.events). NOT_FOUND when the key is absent.
Result<std::uint64_t> read_keyed(const std::filesystem::path& file, std::string_view key);
// Parses the same format from text.
std::optional<std::uint64_t> find_keyed(std::string_view text, std::string_view key);

bool file_exists(const std::filesystem::path& file);
// The pids listed in a cgroup.procs file.
Result<std::vector<pid_t>> read_procs(const std::filesystem::path& procs_file);
// kill(2) on each; a pid that is already gone (ESRCH) is not an error.
Result<> signal_all(const std::vector<pid_t>& pids, int sig);

// kill_all's two strategies, shared by v1 and v2.
// With a freezer: freeze, read procs_file, signal each pid, thaw. A frozen cgroup cannot fork,
// so the list read while frozen is complete; signals reach frozen tasks once thawed, and a
// pending SIGKILL is handled before any user code runs, so a fork bomb cannot outrun it. A few
// passes when freeze reports a task that would not freeze (uninterruptible sleep).
Result<> freeze_and_signal(const std::function<Result<bool>()>& freeze,
                           const std::function<Result<>()>& thaw,
                           const std::filesystem::path& procs_file, int sig);
// Without one: signal until the cgroup is empty (SIGKILL) or once (other signals). The pids
// limit bounds how many a fork bomb adds per pass.
Result<> signal_until_empty(const std::filesystem::path& procs_file, int sig);

// The default CgroupFsOps (mkdir 0755, rmdir), filling in whichever the caller left empty.
CgroupFsOps with_defaults(CgroupFsOps ops);

// Makes every missing directory from `from` (exclusive, must exist) down to `to` (inclusive).
Result<> make_dirs_below(const std::filesystem::path& from, const std::filesystem::path& to,
                         const CgroupFsOps& ops);

// rmdir, retried while the kernel still counts exiting tasks (EBUSY), for at most `budget`.
// A directory that is already gone is success.
inline constexpr std::chrono::milliseconds kRemoveBudget{2000};
Result<> remove_dir_retrying(const std::filesystem::path& dir, const CgroupFsOps& ops,
                             std::chrono::milliseconds budget = kRemoveBudget);

void short_sleep(std::chrono::microseconds d);

// Polls `done` with a short back-off (0.2 ms doubling to 20 ms) until it returns true or
// `budget` passes; returns whether it became true.
template <class Pred>
bool poll_until(Pred done, std::chrono::milliseconds budget) {
  auto end = std::chrono::steady_clock::now() + budget;
  std::chrono::microseconds step{200};
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    short_sleep(step);
    if (step < std::chrono::microseconds(20'000)) step *= 2;
  }
  return true;
}

}  // namespace svc::isolation::cgroups
