#pragma once
// api::ServiceBackend over the service controller and the services' logs: what svc.v1.Services
// asks, answered by the real modules. Holds references only; the ServiceSystem owns what it
// uses and outlives the API server that calls this.
#include <functional>
#include <string>

#include "api/server/services/service_backend.hpp"
#include "scheduler/services/controller.hpp"

namespace svc::daemon {

class FileServiceLogs;

class ApiServiceBackend final : public api::ServiceBackend {
 public:
  // url_base: "http://{}.localhost:8080/" with {} for the name; "" when the ingress is off
  // (deploys are then refused: nothing could reach the service).
  ApiServiceBackend(services::ServiceController& controller, FileServiceLogs& logs,
                    std::string url_pattern)
      : controller_(controller), logs_(logs), url_pattern_(std::move(url_pattern)) {}

  Result<services::DeployResult> deploy(services::ServiceSpec spec) override;
  Result<services::ServiceStatus> get(std::string_view name) override;
  Result<std::vector<services::ServiceStatus>> list() override;
  Result<> remove(std::string_view name) override;
  std::string url(std::string_view name) const override;
  Result<> logs(std::string_view name, const api::ServiceLogQuery& query,
                const std::function<bool(const api::ServiceLogLine&)>& emit,
                const Cancelled& cancelled) override;

 private:
  services::ServiceController& controller_;
  FileServiceLogs& logs_;
  std::string url_pattern_;
};

// "http://{}.localhost:8080/" for an ingress bound to 127.0.0.1:8080 under domain localhost
// (the port is left out when it is 80).
std::string service_url_pattern(std::string_view domain, std::uint16_t port);

}  // namespace svc::daemon
