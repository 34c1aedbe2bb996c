#pragma once
// Where a service's logs live, so `svctl service logs` shows what it did even after it scaled
// to zero (its instances' sandboxes are gone by then):
//
//   <state>/services/<name>/requests/log(.1)        the request log, one CRI line per request,
//                                                   its text a JSON record (request_line.hpp)
//   <state>/services/<name>/instances/<id>/log(.1)  an instance's output, moved here from its
//                                                   sandbox dir when it stopped (same format)
//
// FileServiceLogs is the control plane's ServiceLogs port: request() queues (it is called on
// the data plane's io threads and never blocks; a full queue drops and counts), one writer
// thread appends and rotates; archive() moves an instance's files and keeps the newest
// kKeptInstances per service; forget() removes a service's directory.
//
// Owns the writer thread (joined by the destructor after the queue is written) and the open
// request log files.
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/fd.hpp"
#include "scheduler/services/ports.hpp"

namespace svc::daemon {

class FileServiceLogs final : public services::ServiceLogs {
 public:
  static constexpr std::size_t kKeptInstances = 50;
  static constexpr std::size_t kQueueLimit = 65'536;
  // root: <state>/services; sandbox_dir: where a live instance's files are.
  FileServiceLogs(std::filesystem::path root,
                  std::function<std::filesystem::path(const std::string&)> sandbox_dir,
                  std::uint64_t rotate_bytes = 10ULL << 20);
  ~FileServiceLogs() override;

  void request(const ingress::RequestRecord& record) override;
  void archive(const std::string& service, const std::string& instance_id) override;
  void forget(const std::string& service) override;

  // Waits until every request queued so far is written (tests; shutdown).
  void flush();
  std::uint64_t dropped() const;

  std::filesystem::path requests_dir(const std::string& service) const;
  std::filesystem::path instances_dir(const std::string& service) const;
  std::filesystem::path sandbox_dir(const std::string& id) const { return sandbox_dir_(id); }

 private:
  void loop();
  void write_one(const ingress::RequestRecord& record);

  const std::filesystem::path root_;
  const std::function<std::filesystem::path(const std::string&)> sandbox_dir_;
  const std::uint64_t rotate_bytes_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<ingress::RequestRecord> queue_;
  bool writing_ = false;
  bool stopping_ = false;
  std::uint64_t dropped_ = 0;

  // Writer thread only (and forget(), under files_mu_).
  std::mutex files_mu_;
  struct OpenLog {
    UniqueFd fd;
    std::uint64_t size = 0;
  };
  std::map<std::string, OpenLog> files_;
  std::thread thread_;
};

}  // namespace svc::daemon
