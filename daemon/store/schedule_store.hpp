#pragma once
// scheduler::ScheduleStore on svcd.db: one row per schedule (its task spec as JSON, in the
// tasks table's form) and its last runs in schedule_runs. record_run() writes a run and its
// schedule's handled_through in one transaction, so "this due time was handled" and "this is
// its run" commit together, before the run's task is created.
#include "daemon/store/store.hpp"
#include "scheduler/schedules/ports.hpp"

namespace svc::daemon {

class SqlScheduleStore final : public scheduler::ScheduleStore {
 public:
  explicit SqlScheduleStore(Store& store) : store_(store) {}
  Result<> insert(const scheduler::Schedule& schedule) override;
  Result<> update(const scheduler::Schedule& schedule) override;
  Result<> remove(const std::string& name) override;
  Result<std::vector<scheduler::Schedule>> load_all() override;
  Result<> record_run(const std::string& name, scheduler::TimePoint handled_through,
                      const scheduler::RunRecord& run, std::size_t keep) override;

 private:
  Store& store_;
};

}  // namespace svc::daemon
