#pragma once
// The shim's side of task logs: bytes from the task's stdout/stderr pipes become CRI log lines
//   <RFC3339Nano UTC> <stdout|stderr> <F|P> <text>\n
// (F: a full line; P: a partial one — longer than kMaxLogLine, or cut by the exit), appended to
// <sandbox>/log and rotated to log.1 when the next line would pass the size cap. No allocation
// and no standard library beyond libc, so it fits in the static shim; isolation/log_reader.hpp
// reads the same format.
#include <time.h>

#include <cstddef>

#include "isolation/shim/protocol.hpp"

namespace svc::isolation::shim {

// "2006-01-02T15:04:05.123456789Z" (30 bytes + NUL); out must hold 32 bytes. Returns the length.
int format_rfc3339_nano(const struct timespec& ts, char* out);

// Owns the log file descriptor (closed by the destructor); borrows dirfd.
class LogWriter {
 public:
  LogWriter() = default;
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Opens (appends to) <dirfd>/log. max_bytes 0 = no rotation. Returns 0 or -errno.
  int open(int dirfd, unsigned long long max_bytes);
  // stream: 0 = stdout, 1 = stderr.
  void feed(int stream, const char* data, std::size_t n, const struct timespec& now);
  // The rest of each stream's unfinished line, as P records.
  void finish(const struct timespec& now);
  void flush();

 private:
  void record(int stream, const char* text, std::size_t n, bool partial,
              const struct timespec& now);
  void rotate();

  int dirfd_ = -1;
  int fd_ = -1;
  unsigned long long size_ = 0;
  unsigned long long max_ = 0;
  char pending_[2][kMaxLogLine];
  std::size_t pending_len_[2] = {0, 0};
  char out_[kMaxLogLine + 4096];  // at least one whole record
  std::size_t out_len_ = 0;
};

}  // namespace svc::isolation::shim
