#include "isolation/log_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "common/fd.hpp"
#include "isolation/shim/protocol.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;

Result<LogLine> parse_log_line(std::string_view line) {
  auto bad = [&] {
    return fail(Code::kInvalidArgument, "not a CRI log line: \"{}\"",
                line.substr(0, std::min<std::size_t>(line.size(), 80)));
  };
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return bad();
  auto time = parse_rfc3339(line.substr(0, sp1));
  if (!time) return bad();
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return bad();
  std::string_view stream = line.substr(sp1 + 1, sp2 - sp1 - 1);
  LogLine l;
  l.time = *time;
  if (stream == "stdout")
    l.stream = LogStream::kStdout;
  else if (stream == "stderr")
    l.stream = LogStream::kStderr;
  else
    return bad();
  if (sp2 + 2 > line.size() || (line[sp2 + 1] != 'F' && line[sp2 + 1] != 'P')) return bad();
  l.partial = line[sp2 + 1] == 'P';
  if (sp2 + 2 < line.size()) {
    if (line[sp2 + 2] != ' ') return bad();
    l.text = std::string(line.substr(sp2 + 3));
  }
  return l;
}

namespace {

void split_lines(std::string& buffer, std::vector<LogLine>& out) {
  std::size_t start = 0;
  for (;;) {
    auto nl = buffer.find('\n', start);
    if (nl == std::string::npos) break;
    if (auto l = parse_log_line(std::string_view(buffer).substr(start, nl - start)))
      out.push_back(std::move(*l));
    start = nl + 1;
  }
  buffer.erase(0, start);
}

void apply_query(const LogQuery& q, std::vector<LogLine>& lines) {
  if (q.since) {
    auto first = std::find_if(lines.begin(), lines.end(),
                              [&](const LogLine& l) { return l.time >= *q.since; });
    lines.erase(lines.begin(), first);
  }
  if (q.tail && lines.size() > *q.tail)
    lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(*q.tail));
}

}  // namespace

Result<std::vector<LogLine>> read_log(const fs::path& dir, const LogQuery& query) {
  LogFollower f(dir, query);
  return f.poll();
}

LogFollower::LogFollower(fs::path sandbox_dir, LogQuery initial)
    : dir_(std::move(sandbox_dir)), initial_(initial) {}

namespace {
constexpr std::size_t kHead = 64;

std::string head_of(int fd) {
  char buf[kHead];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}
}  // namespace

// Reads file from offset_ on. expect != 0: only if it is still the followed file (same inode,
// same first bytes); switch_file: start following this file from its beginning.
Result<> LogFollower::read_from(const fs::path& file, ino_t expect, std::vector<LogLine>& out,
                                bool switch_file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return {};
    return fail_errno("open " + file.string());
  }
  struct stat st {};
  ::fstat(fd.get(), &st);
  if (expect != 0) {
    if (st.st_ino != expect) return {};
    std::string head = head_of(fd.get());
    if (head.compare(0, head_.size(), head_) != 0) return {};  // a new file, same inode number
  }
  if (switch_file) {
    ino_ = st.st_ino;
    offset_ = 0;
    head_.clear();
  }
  char buf[65536];
  for (;;) {
    ssize_t n = ::pread(fd.get(), buf, sizeof buf, offset_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read " + file.string());
    if (n == 0) break;
    offset_ += n;
    pending_.append(buf, static_cast<std::size_t>(n));
    split_lines(pending_, out);
  }
  if (head_.size() < kHead) head_ = head_of(fd.get());
  return {};
}

Result<std::vector<LogLine>> LogFollower::poll() {
  std::vector<LogLine> out;
  fs::path current = dir_ / shim::kLogFile;
  fs::path rotated = dir_ / shim::kRotatedLogFile;
  if (!started_) {
    started_ = true;
    // The older file whole, then the current one from its start.
    ino_ = 0;
    offset_ = 0;
    SVC_TRY(read_from(rotated, 0, out, true));
    pending_.clear();
    ino_ = 0;
    SVC_TRY(read_from(current, 0, out, true));
    apply_query(initial_, out);
    return out;
  }
  if (ino_ == 0) {
    SVC_TRY(read_from(current, 0, out, true));
    return out;
  }
  UniqueFd cur(::open(current.c_str(), O_RDONLY | O_CLOEXEC));
  if (!cur) {
    if (errno == ENOENT) return out;
    return fail_errno("open " + current.string());
  }
  struct stat st {};
  ::fstat(cur.get(), &st);
  std::string head = head_of(cur.get());
  bool same = st.st_ino == ino_ && head.compare(0, head_.size(), head_) == 0;
  if (!same) {
    // Rotated: finish the file we were reading (now log.1, unless a second rotation already
    // dropped it), then start on the new one.
    SVC_TRY(read_from(rotated, ino_, out, false));
    pending_.clear();
    SVC_TRY(read_from(current, 0, out, true));
    return out;
  }
  SVC_TRY(read_from(current, ino_, out, false));
  return out;
}

}  // namespace svc::isolation
