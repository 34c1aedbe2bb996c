#pragma once
// Exit notification for many sandboxes from one thread: each watch is a connection to the
// sandbox's shim with a "wait" request outstanding; the shim answers with the exit record when
// the task ends (after writing exit.json). One epoll thread serves every watch, so a thousand
// idle tasks cost a thousand sockets, not a thousand threads. After a daemon restart, call
// watch() again for every sandbox list() returns: a task that ended while nobody watched is
// reported at once from its exit.json.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "isolation/exit_record.hpp"

namespace svc::isolation {

// Owns its thread (joined by the destructor, which drops every watch without calling back),
// an epoll fd, an eventfd and one socket per watch.
class ExitMonitor {
 public:
  // Runs on the monitor's thread; keep it short (hand work to another executor). It may call
  // watch() and unwatch().
  using Callback = std::function<void(const std::string& id, const ExitRecord& record)>;

  ExitMonitor();
  ~ExitMonitor();
  ExitMonitor(const ExitMonitor&) = delete;
  ExitMonitor& operator=(const ExitMonitor&) = delete;

  // Calls back exactly once when the sandbox's task has ended (at once if it already has; with
  // ExitRecord::shim_lost when its shim died without a record). ALREADY_EXISTS for an id that
  // is already watched.
  Result<> watch(const std::string& id, const std::filesystem::path& sandbox_dir, Callback cb);
  // No callback for this id after unwatch returns (unless it is running right now).
  void unwatch(const std::string& id);
  std::size_t watching() const;

 private:
  struct Watch {
    std::string id;
    std::filesystem::path dir;
    Callback cb;
    UniqueFd fd;  // -1 when the result is already known (queued for the thread)
    std::string buffer;
  };
  void loop();
  void finish(std::uint64_t key);
  void wake();

  UniqueFd epoll_;
  UniqueFd event_;
  mutable std::mutex mu_;
  std::map<std::uint64_t, Watch> watches_;
  std::map<std::string, std::uint64_t> by_id_;
  std::vector<std::uint64_t> ready_;  // known results, delivered by the thread
  std::uint64_t next_key_ = 1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace svc::isolation
