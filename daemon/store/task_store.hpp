#pragma once
// scheduler::TaskStore on svcd.db: one row per task, the spec as JSON, every state change an
// UPDATE in its own transaction (so a crash never loses an acknowledged change).
#include "daemon/store/store.hpp"
#include "scheduler/tasks/ports.hpp"

namespace svc::daemon {

// Writes that belong with a task's: called inside the transaction of every task write, so what
// it writes commits or rolls back with the task's state and costs no commit of its own (the
// usage record opens with RUNNING and closes with STOPPED: daemon/billing/task_recorder.hpp).
// An error fails the task's write.
class TaskWriteListener {
 public:
  virtual ~TaskWriteListener() = default;
  virtual Result<> on_task_written(Store::Tx& tx, const scheduler::Task& task) = 0;
  virtual Result<> on_task_removed(Store::Tx& tx, const std::string& id) = 0;
};

class SqlTaskStore final : public scheduler::TaskStore {
 public:
  explicit SqlTaskStore(Store& store, TaskWriteListener* listener = nullptr)
      : store_(store), listener_(listener) {}
  Result<> insert(const scheduler::Task& task) override;
  Result<> update(const scheduler::Task& task) override;
  Result<> remove(const std::string& id) override;
  Result<std::vector<scheduler::Task>> load_all() override;

  // Exposed for tests: the spec's JSON form and back.
  static std::string spec_to_json(const scheduler::TaskSpec& spec);
  static Result<scheduler::TaskSpec> spec_from_json(std::string_view json);
  static std::string resources_to_json(const scheduler::Resources& resources);
  // "" (a row from before migration 3) reads as the spec's amounts.
  static Result<scheduler::Resources> resources_from_json(std::string_view json,
                                                          const scheduler::TaskSpec& spec);

 private:
  Result<> write(const scheduler::Task& task, bool insert);
  Store& store_;
  TaskWriteListener* listener_;
};

}  // namespace svc::daemon
