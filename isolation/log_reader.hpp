#pragma once
// Reading task logs written by the shim (shim/log_writer.hpp): CRI lines
//   <RFC3339Nano UTC> <stdout|stderr> <F|P> <text>
// from <sandbox>/log.1 (older, after a rotation) and <sandbox>/log. The daemon's Logs API uses
// read_log for "tail N / since T" and LogFollower for "follow", which carries on across
// rotations (it notices the file it was reading was renamed to log.1 and finishes it first).
#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "isolation/rfc3339.hpp"

namespace svc::isolation {

enum class LogStream { kStdout, kStderr };

struct LogLine {
  TimePoint time{};
  LogStream stream = LogStream::kStdout;
  bool partial = false;  // P: continued by the next line of the same stream (or cut at exit)
  std::string text;
  bool operator==(const LogLine&) const = default;
};

Result<LogLine> parse_log_line(std::string_view line);

struct LogQuery {
  std::optional<std::size_t> tail;  // only the last N lines
  std::optional<TimePoint> since;   // only lines at or after this time
};

// Oldest first. Lines that do not parse (a torn write after a crash) are skipped.
Result<std::vector<LogLine>> read_log(const std::filesystem::path& sandbox_dir,
                                      const LogQuery& query);

// Follows a sandbox's log. Not thread-safe; owns no fd between calls.
class LogFollower {
 public:
  explicit LogFollower(std::filesystem::path sandbox_dir, LogQuery initial = {});
  // The first call returns what the initial query selects; later calls the lines written
  // since, in order, across rotations. Never blocks: poll again (or use inotify) for more.
  Result<std::vector<LogLine>> poll();

 private:
  Result<> read_from(const std::filesystem::path& file, ino_t expect, std::vector<LogLine>& out,
                     bool switch_file);
  std::filesystem::path dir_;
  LogQuery initial_;
  bool started_ = false;
  // The file being followed: its inode and its first bytes (an inode number is reused as soon
  // as a rotation frees it, so the number alone does not tell a new file from the old one).
  ino_t ino_ = 0;
  std::string head_;
  off_t offset_ = 0;     // bytes of it consumed
  std::string pending_;  // a line whose newline has not been written yet
};

}  // namespace svc::isolation
