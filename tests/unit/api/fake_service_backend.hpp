#pragma once
// A fake of api::ServiceBackend (api/server/services/service_backend.hpp): services kept in a
// map, every call recorded, so the svc.v1.Services handlers are tested without a controller.
#include <map>
#include <string>
#include <vector>

#include "api/server/services/service_backend.hpp"

namespace svc::api::testing {

class FakeServiceBackend final : public ServiceBackend {
 public:
  std::map<std::string, services::ServiceStatus> services;  // by name
  std::vector<services::ServiceSpec> deployed;
  std::vector<std::string> removed;
  std::vector<ServiceLogLine> lines;
  ServiceLogQuery last_query;
  services::DeployOutcome next_outcome = services::DeployOutcome::kCreated;
  std::string url_base = "http://{}.localhost:8080/";

  Result<services::DeployResult> deploy(services::ServiceSpec spec) override {
    deployed.push_back(spec);
    services::ServiceStatus& s = services[spec.name];
    s.service.name = spec.name;
    s.service.spec = spec;
    s.service.latest_revision += next_outcome == services::DeployOutcome::kUnchanged ? 0 : 1;
    s.service.serving_revision = services::revision_name(spec.name, s.service.latest_revision);
    services::DeployResult out;
    out.status = s;
    out.outcome = next_outcome;
    out.revision = s.service.serving_revision;
    return out;
  }
  Result<services::ServiceStatus> get(std::string_view name) override {
    auto it = services.find(std::string(name));
    if (it == services.end()) return fail(Code::kNotFound, "no service \"{}\"", name);
    return it->second;
  }
  Result<std::vector<services::ServiceStatus>> list() override {
    std::vector<services::ServiceStatus> out;
    // Backwards, so the handler's sorting shows.
    for (auto it = services.rbegin(); it != services.rend(); ++it) out.push_back(it->second);
    return out;
  }
  Result<> remove(std::string_view name) override {
    SVC_TRY(get(name));
    removed.emplace_back(name);
    services.erase(std::string(name));
    return {};
  }
  std::string url(std::string_view name) const override {
    if (url_base.empty()) return {};
    return fmt::format(fmt::runtime(url_base), name);
  }
  Result<> logs(std::string_view name, const ServiceLogQuery& query,
                const std::function<bool(const ServiceLogLine&)>& emit, const Cancelled&) override {
    SVC_TRY(get(name));
    last_query = query;
    for (const auto& l : lines)
      if (!emit(l)) break;
    return {};
  }
};

}  // namespace svc::api::testing
