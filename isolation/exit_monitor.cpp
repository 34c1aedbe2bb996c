#include "isolation/exit_monitor.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <system_error>

#include <spdlog/spdlog.h>

#include "common/fs.hpp"
#include "isolation/shim/protocol.hpp"
#include "isolation/shim_client.hpp"

namespace svc::isolation {

namespace {

constexpr std::uint64_t kWakeKey = 0;

ExitRecord from_disk(const std::filesystem::path& dir) {
  if (auto text = read_file(dir / shim::kExitFile))
    if (auto r = parse_exit_record(*text)) return *r;
  ExitRecord lost;
  lost.shim_lost = true;
  lost.exited_at = std::chrono::system_clock::now();
  lost.error = "the shim died without recording how the task ended";
  return lost;
}

}  // namespace

ExitMonitor::ExitMonitor()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)), event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, event_.get(), &ev);
  thread_ = std::thread([this] { loop(); });
}

ExitMonitor::~ExitMonitor() {
  stopping_ = true;
  wake();
  thread_.join();
}

void ExitMonitor::wake() {
  std::uint64_t one = 1;
  ssize_t ignored = ::write(event_.get(), &one, sizeof one);
  (void)ignored;
}

std::size_t ExitMonitor::watching() const {
  std::lock_guard lock(mu_);
  return by_id_.size();
}

Result<> ExitMonitor::watch(const std::string& id, const std::filesystem::path& dir, Callback cb) {
  Watch w{id, dir, std::move(cb), UniqueFd(), {}};
  auto conn = connect_unix(dir, shim::kSocketName, false);
  if (conn) {
    if (::send(conn->get(), "wait\n", 5, MSG_NOSIGNAL) == 5) w.fd = std::move(*conn);
  } else if (conn.error().code() != Code::kUnavailable) {
    return tl::unexpected(std::move(conn).error().context("watch sandbox " + id));
  }
  std::lock_guard lock(mu_);
  if (by_id_.count(id)) return fail(Code::kAlreadyExists, "sandbox {} is already watched", id);
  std::uint64_t key = next_key_++;
  if (w.fd) {
    struct epoll_event ev {};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = key;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, w.fd.get(), &ev) != 0)
      return fail_errno("watch sandbox " + id + ": epoll_ctl");
  } else {
    ready_.push_back(key);  // no shim: the exit is on disk (or lost); report from the thread
  }
  by_id_[id] = key;
  watches_.emplace(key, std::move(w));
  if (!ready_.empty()) wake();
  return {};
}

void ExitMonitor::unwatch(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  auto w = watches_.find(it->second);
  if (w != watches_.end()) {
    if (w->second.fd) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w->second.fd.get(), nullptr);
    watches_.erase(w);
  }
  by_id_.erase(it);
}

// Takes the watch out of the tables and calls back with its record.
void ExitMonitor::finish(std::uint64_t key) {
  Watch w;
  {
    std::lock_guard lock(mu_);
    auto it = watches_.find(key);
    if (it == watches_.end()) return;
    w = std::move(it->second);
    watches_.erase(it);
    by_id_.erase(w.id);
    if (w.fd) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.fd.get(), nullptr);
  }
  ExitRecord record;
  auto nl = w.buffer.find('\n');
  std::string_view line(w.buffer.data(), nl == std::string::npos ? w.buffer.size() : nl);
  auto parsed = line.starts_with("exit ") ? parse_exit_record(line.substr(5))
                                          : Result<ExitRecord>(tl::unexpected(Error()));
  record = parsed ? *parsed : from_disk(w.dir);
  try {
    w.cb(w.id, record);
  } catch (const std::exception& e) {
    spdlog::error("exit monitor: callback for sandbox {} threw: {}", w.id, e.what());
  }
}

void ExitMonitor::loop() {
  struct epoll_event evs[64];
  while (!stopping_) {
    int n = ::epoll_wait(epoll_.get(), evs, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      spdlog::error("exit monitor: epoll_wait: {}",
                    std::error_code(errno, std::system_category()).message());
      return;
    }
    for (int i = 0; i < n && !stopping_; ++i) {
      std::uint64_t key = evs[i].data.u64;
      if (key == kWakeKey) {
        std::uint64_t v;
        ssize_t ignored = ::read(event_.get(), &v, sizeof v);
        (void)ignored;
        continue;
      }
      bool done = false;
      {
        std::lock_guard lock(mu_);
        auto it = watches_.find(key);
        if (it == watches_.end() || !it->second.fd) continue;
        char buf[4096];
        ssize_t r = ::recv(it->second.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) it->second.buffer.append(buf, static_cast<std::size_t>(r));
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR) ||
            it->second.buffer.find('\n') != std::string::npos)
          done = true;
      }
      if (done) finish(key);
    }
    std::vector<std::uint64_t> ready;
    {
      std::lock_guard lock(mu_);
      ready.swap(ready_);
    }
    for (auto key : ready)
      if (!stopping_) finish(key);
  }
}

}  // namespace svc::isolation
