#include "isolation/shim/log_writer.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace svc::isolation::shim {

namespace {

void put2(char* p, int v) {
  p[0] = static_cast<char>('0' + v / 10 % 10);
  p[1] = static_cast<char>('0' + v % 10);
}

}  // namespace

int format_rfc3339_nano(const struct timespec& ts, char* out) {
  struct tm tm;
  time_t secs = ts.tv_sec;
  gmtime_r(&secs, &tm);
  int year = tm.tm_year + 1900;
  out[0] = static_cast<char>('0' + year / 1000 % 10);
  out[1] = static_cast<char>('0' + year / 100 % 10);
  put2(out + 2, year % 100);
  out[4] = '-';
  put2(out + 5, tm.tm_mon + 1);
  out[7] = '-';
  put2(out + 8, tm.tm_mday);
  out[10] = 'T';
  put2(out + 11, tm.tm_hour);
  out[13] = ':';
  put2(out + 14, tm.tm_min);
  out[16] = ':';
  put2(out + 17, tm.tm_sec);
  out[19] = '.';
  long ns = ts.tv_nsec;
  for (int i = 28; i >= 20; --i) {
    out[i] = static_cast<char>('0' + ns % 10);
    ns /= 10;
  }
  out[29] = 'Z';
  out[30] = 0;
  return 30;
}

LogWriter::~LogWriter() {
  flush();
  if (fd_ >= 0) ::close(fd_);
}

int LogWriter::open(int dirfd, unsigned long long max_bytes) {
  dirfd_ = dirfd;
  max_ = max_bytes;
  fd_ = ::openat(dirfd, kLogFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return -errno;
  struct stat st;
  size_ = ::fstat(fd_, &st) == 0 ? static_cast<unsigned long long>(st.st_size) : 0;
  return 0;
}

void LogWriter::flush() {
  std::size_t off = 0;
  while (fd_ >= 0 && off < out_len_) {
    ssize_t n = ::write(fd_, out_ + off, out_len_ - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a full disk loses log lines, never the task
    off += static_cast<std::size_t>(n);
    size_ += static_cast<unsigned long long>(n);
  }
  out_len_ = 0;
}

void LogWriter::rotate() {
  flush();
  if (::renameat(dirfd_, kLogFile, dirfd_, kRotatedLogFile) != 0) return;
  int fd = ::openat(dirfd_, kLogFile, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return;
  ::close(fd_);
  fd_ = fd;
  size_ = 0;
}

void LogWriter::record(int stream, const char* text, std::size_t n, bool partial,
                       const struct timespec& now) {
  static constexpr const char* kNames[2] = {" stdout ", " stderr "};
  const std::size_t len = 30 + 8 + 2 + n + 1;
  if (max_ > 0 && size_ + out_len_ > 0 && size_ + out_len_ + len > max_) rotate();
  if (out_len_ + len > sizeof out_) flush();
  char* p = out_ + out_len_;
  format_rfc3339_nano(now, p);
  std::memcpy(p + 30, kNames[stream], 8);
  p[38] = partial ? 'P' : 'F';
  p[39] = ' ';
  std::memcpy(p + 40, text, n);
  p[40 + n] = '\n';
  out_len_ += len;
}

void LogWriter::feed(int stream, const char* data, std::size_t n, const struct timespec& now) {
  char* pend = pending_[stream];
  std::size_t& plen = pending_len_[stream];
  while (n > 0) {
    const char* nl = static_cast<const char*>(std::memchr(data, '\n', n));
    std::size_t take = nl ? static_cast<std::size_t>(nl - data) : n;
    if (plen == 0 && nl && take <= kMaxLogLine) {  // the common case: a whole line, no copy
      record(stream, data, take, false, now);
    } else {
      while (take > 0) {
        std::size_t room = kMaxLogLine - plen;
        std::size_t k = take < room ? take : room;
        std::memcpy(pend + plen, data, k);
        plen += k;
        data += k;
        n -= k;
        take -= k;
        if (plen == kMaxLogLine) {
          record(stream, pend, plen, true, now);
          plen = 0;
        }
      }
      if (!nl) return;
      record(stream, pend, plen, false, now);
      plen = 0;
      data = nl;
    }
    if (nl) {
      n -= static_cast<std::size_t>(nl - data) + 1;
      data = nl + 1;
    }
  }
}

void LogWriter::finish(const struct timespec& now) {
  for (int s = 0; s < 2; ++s) {
    if (pending_len_[s] > 0) record(s, pending_[s], pending_len_[s], true, now);
    pending_len_[s] = 0;
  }
  flush();
}

}  // namespace svc::isolation::shim
