#pragma once
// services::ServiceStore on svcd.db: a row per service, per revision and per instance that
// exists; specs as JSON. Each write is its own transaction, so an acknowledged deploy survives
// a crash; removing a service removes its revisions in the same transaction.
#include "daemon/store/store.hpp"
#include "scheduler/services/ports.hpp"

namespace svc::daemon {

// Writes that belong with an instance's: called inside the transaction of the instance's own
// write, so they commit or roll back with it and cost no commit of their own (its usage record
// opens with the write that records its sandbox's start and closes with the one that records its
// end: daemon/billing/instance_billing.hpp). An error fails the instance's write.
class InstanceWriteListener {
 public:
  virtual ~InstanceWriteListener() = default;
  // Every write of an instance that exists (instance.started_at set once its sandbox runs).
  virtual Result<> on_instance_written(Store::Tx& tx, const services::Instance& instance) = 0;
  // Its end (instance.end says how), in the transaction that removes its row.
  virtual Result<> on_instance_ended(Store::Tx& tx, const services::Instance& instance) = 0;
};

class SqlServiceStore final : public services::ServiceStore {
 public:
  explicit SqlServiceStore(Store& store, InstanceWriteListener* listener = nullptr)
      : store_(store), listener_(listener) {}
  Result<> put_service(const services::Service& service) override;
  Result<> remove_service(const std::string& name) override;
  Result<> put_revision(const services::Revision& revision) override;
  Result<> put_instance(const services::Instance& instance) override;
  Result<> remove_instance(const std::string& id) override;
  Result<> end_instance(const services::Instance& instance) override;
  Result<Contents> load_all() override;

  // Exposed for tests: the spec's JSON form and back.
  static std::string spec_to_json(const services::ServiceSpec& spec);
  static Result<services::ServiceSpec> spec_from_json(std::string_view json);

 private:
  Result<> delete_instance_in(Store::Tx& tx, const std::string& id);
  Store& store_;
  InstanceWriteListener* listener_;
};

}  // namespace svc::daemon
