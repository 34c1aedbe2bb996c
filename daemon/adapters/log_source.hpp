#pragma once
// scheduler::LogSource over the shim's CRI log files (isolation/log_reader.hpp).
#include <filesystem>
#include <functional>

#include "scheduler/tasks/ports.hpp"

namespace svc::daemon {

class LogSourceAdapter final : public scheduler::LogSource {
 public:
  // dir_of: the sandbox directory of a task id.
  explicit LogSourceAdapter(std::function<std::filesystem::path(const std::string&)> dir_of)
      : dir_of_(std::move(dir_of)) {}
  Result<> read(const std::string& task_id, const scheduler::LogQuery& query,
                const std::function<bool(const scheduler::LogLine&)>& emit,
                const KeepFollowing& keep_following) override;

 private:
  std::function<std::filesystem::path(const std::string&)> dir_of_;
};

}  // namespace svc::daemon
