#pragma once
// The port svc.v1.Services stands on: what the API needs of the service controller, in the
// control plane's plain data types (scheduler/services/). daemon/adapters/api_services.*
// implements it over the real controller and the services' logs; tests/unit/api/ uses a fake.
//
// Every call may block (deploy pulls a missing image, logs follow) and is made on the call's
// own thread; implementations are safe from several threads at once.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "scheduler/ingress/ports.hpp"
#include "scheduler/services/service.hpp"
#include "scheduler/services/status.hpp"

namespace svc::api {

// One line of `svctl service logs`: an instance's output, or a request the ingress proxied.
struct ServiceLogLine {
  enum class Kind { kStdout, kStderr, kRequest };
  std::chrono::system_clock::time_point time{};
  std::string instance;
  Kind kind = Kind::kStdout;
  std::string text;
  bool partial = false;
  std::optional<ingress::RequestRecord> request;  // kRequest
};

struct ServiceLogQuery {
  bool follow = false;
  int tail = 0;  // the last N lines; 0 = all
  std::optional<std::chrono::system_clock::time_point> since;
  bool requests = true;  // the request log lines too
};

class ServiceBackend {
 public:
  using Cancelled = std::function<bool()>;
  virtual ~ServiceBackend() = default;

  virtual Result<services::DeployResult> deploy(services::ServiceSpec spec) = 0;
  virtual Result<services::ServiceStatus> get(std::string_view name) = 0;
  virtual Result<std::vector<services::ServiceStatus>> list() = 0;
  virtual Result<> remove(std::string_view name) = 0;
  // Where the service answers ("http://hello.localhost:8080/"), "" when the ingress is off.
  virtual std::string url(std::string_view name) const = 0;
  // The service's lines in time order; with follow, new ones as they come until cancelled()
  // or emit returns false.
  virtual Result<> logs(std::string_view name, const ServiceLogQuery& query,
                        const std::function<bool(const ServiceLogLine&)>& emit,
                        const Cancelled& cancelled) = 0;
};

}  // namespace svc::api
