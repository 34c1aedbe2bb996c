#pragma once
// services::ServiceStore on svcd.db: a row per service, per revision and per instance that
// exists; specs as JSON. Each write is its own transaction, so an acknowledged deploy survives
// a crash; removing a service removes its revisions in the same transaction.
#include "daemon/store/store.hpp"
#include "scheduler/services/ports.hpp"

namespace svc::daemon {

class SqlServiceStore final : public services::ServiceStore {
 public:
  explicit SqlServiceStore(Store& store) : store_(store) {}
  Result<> put_service(const services::Service& service) override;
  Result<> remove_service(const std::string& name) override;
  Result<> put_revision(const services::Revision& revision) override;
  Result<> put_instance(const services::Instance& instance) override;
  Result<> remove_instance(const std::string& id) override;
  Result<Contents> load_all() override;

  // Exposed for tests: the spec's JSON form and back.
  static std::string spec_to_json(const services::ServiceSpec& spec);
  static Result<services::ServiceSpec> spec_from_json(std::string_view json);

 private:
  Store& store_;
};

}  // namespace svc::daemon
