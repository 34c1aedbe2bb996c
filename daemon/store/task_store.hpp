#pragma once
// scheduler::TaskStore on svcd.db: one row per task, the spec as JSON, every state change an
// UPDATE in its own transaction (so a crash never loses an acknowledged change).
#include "daemon/store/store.hpp"
#include "scheduler/tasks/ports.hpp"

namespace svc::daemon {

class SqlTaskStore final : public scheduler::TaskStore {
 public:
  explicit SqlTaskStore(Store& store) : store_(store) {}
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
};

}  // namespace svc::daemon
