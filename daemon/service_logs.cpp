#include "daemon/service_logs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/fs.hpp"
#include "daemon/request_line.hpp"
#include "isolation/rfc3339.hpp"

namespace svc::daemon {

namespace fs = std::filesystem;

FileServiceLogs::FileServiceLogs(fs::path root, std::function<fs::path(const std::string&)> dir,
                                 std::uint64_t rotate_bytes)
    : root_(std::move(root)), sandbox_dir_(std::move(dir)), rotate_bytes_(rotate_bytes) {
  thread_ = std::thread([this] { loop(); });
}

FileServiceLogs::~FileServiceLogs() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

fs::path FileServiceLogs::requests_dir(const std::string& service) const {
  return root_ / service / "requests";
}

fs::path FileServiceLogs::instances_dir(const std::string& service) const {
  return root_ / service / "instances";
}

void FileServiceLogs::request(const ingress::RequestRecord& record) {
  if (record.service.empty()) return;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= kQueueLimit) {
      ++dropped_;
      return;
    }
    queue_.push_back(record);
  }
  cv_.notify_one();
}

std::uint64_t FileServiceLogs::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

void FileServiceLogs::flush() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [&] { return (queue_.empty() && !writing_) || stopping_; });
}

void FileServiceLogs::loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) break;
    std::deque<ingress::RequestRecord> batch;
    batch.swap(queue_);
    writing_ = true;
    lock.unlock();
    for (const auto& r : batch) write_one(r);
    lock.lock();
    writing_ = false;
    idle_cv_.notify_all();
  }
  idle_cv_.notify_all();
}

void FileServiceLogs::write_one(const ingress::RequestRecord& r) {
  std::lock_guard lock(files_mu_);
  fs::path dir = requests_dir(r.service);
  auto it = files_.find(r.service);
  if (it == files_.end()) {
    if (auto made = make_dirs(dir, 0700); !made) {
      spdlog::warn("services: request log of {}: {}", r.service, made.error().message());
      return;
    }
    UniqueFd fd(::open((dir / "log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (!fd) {
      spdlog::warn("services: open the request log of {}: {}", r.service, std::strerror(errno));
      return;
    }
    struct stat st {};
    ::fstat(fd.get(), &st);
    it = files_.emplace(r.service, OpenLog{std::move(fd), static_cast<std::uint64_t>(st.st_size)})
             .first;
  }
  // The same CRI form as the shim writes, so the log readers serve both.
  std::string line =
      fmt::format("{} stdout F {}\n", isolation::format_rfc3339_nano(r.time), encode_request(r));
  OpenLog& log = it->second;
  if (rotate_bytes_ > 0 && log.size > 0 && log.size + line.size() > rotate_bytes_) {
    std::error_code ec;
    fs::rename(dir / "log", dir / "log.1", ec);
    UniqueFd fd(
        ::open((dir / "log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0600));
    if (fd) {
      log.fd = std::move(fd);
      log.size = 0;
    }
  }
  if (::write(log.fd.get(), line.data(), line.size()) == static_cast<ssize_t>(line.size()))
    log.size += line.size();
}

void FileServiceLogs::archive(const std::string& service, const std::string& id) {
  fs::path from = sandbox_dir_(id);
  fs::path to = instances_dir(service) / id;
  std::error_code ec;
  if (!fs::exists(from / "log", ec) && !fs::exists(from / "log.1", ec)) return;  // no output
  if (auto made = make_dirs(to, 0700); !made) {
    spdlog::warn("services: keep the logs of {}: {}", id, made.error().message());
    return;
  }
  // Same file system (both under the state dir): renames, no copies.
  for (const char* name : {"log.1", "log"}) {
    if (!fs::exists(from / name, ec)) continue;
    fs::rename(from / name, to / name, ec);
    if (ec) spdlog::warn("services: keep {} of {}: {}", name, id, ec.message());
  }
  // Keep the newest instances' logs of the service, not every cold start's forever.
  std::vector<std::pair<fs::file_time_type, fs::path>> kept;
  for (const auto& e : fs::directory_iterator(instances_dir(service), ec))
    kept.emplace_back(e.last_write_time(ec), e.path());
  if (kept.size() <= kKeptInstances) return;
  std::sort(kept.begin(), kept.end());
  for (std::size_t i = 0; i + kKeptInstances < kept.size(); ++i) fs::remove_all(kept[i].second, ec);
}

void FileServiceLogs::forget(const std::string& service) {
  flush();
  std::lock_guard lock(files_mu_);
  files_.erase(service);
  std::error_code ec;
  fs::remove_all(root_ / service, ec);
  if (ec) spdlog::warn("services: remove the logs of {}: {}", service, ec.message());
}

}  // namespace svc::daemon
