#include "daemon/adapters/api_services.hpp"

#include <fmt/format.h>

#include "daemon/service_log_reader.hpp"
#include "daemon/service_logs.hpp"

namespace svc::daemon {

std::string service_url_pattern(std::string_view domain, std::uint16_t port) {
  if (port == 80) return fmt::format("http://{{}}.{}/", domain);
  return fmt::format("http://{{}}.{}:{}/", domain, port);
}

Result<services::DeployResult> ApiServiceBackend::deploy(services::ServiceSpec spec) {
  if (url_pattern_.empty())
    return fail(Code::kFailedPrecondition,
                "the ingress is off ([ingress] listen = \"\" in svcd's config), so no service "
                "could be reached: set [ingress] listen (e.g. \"127.0.0.1:8080\") and restart "
                "svcd");
  // svctl pulls a missing image before it deploys (with progress); a pull from here (REST)
  // runs to its end.
  std::atomic<bool> never{false};
  return controller_.deploy(std::move(spec), never);
}

Result<services::ServiceStatus> ApiServiceBackend::get(std::string_view name) {
  return controller_.get(name);
}

Result<std::vector<services::ServiceStatus>> ApiServiceBackend::list() {
  return controller_.list();
}

Result<> ApiServiceBackend::remove(std::string_view name) { return controller_.remove(name); }

std::string ApiServiceBackend::url(std::string_view name) const {
  if (url_pattern_.empty()) return {};
  return fmt::format(fmt::runtime(url_pattern_), name);
}

Result<> ApiServiceBackend::logs(std::string_view name, const api::ServiceLogQuery& query,
                                 const std::function<bool(const api::ServiceLogLine&)>& emit,
                                 const Cancelled& cancelled) {
  std::string service(name);
  SVC_TRY(controller_.get(service));
  auto live = [this, service] {
    std::vector<std::string> ids;
    if (auto s = controller_.get(service))
      for (const auto& i : s->instances) ids.push_back(i.id);
    return ids;
  };
  return read_service_logs(logs_, service, query, live, emit, cancelled);
}

}  // namespace svc::daemon
