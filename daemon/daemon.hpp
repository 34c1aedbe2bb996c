#pragma once
// The composition root: builds every module from the config and wires them together. The only
// place that knows all of them.
//
// Owns (in start order, released in reverse): the state-dir lock, the store, the image service,
// the usage store and recorder, the task system (runtime + controller), the usage meter, the
// API's backends, the dispatcher and the API server.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.hpp"
#include "common/fd.hpp"
#include "daemon/config.hpp"
#include "scheduler/capacity.hpp"

namespace svc::images {
class ImageService;
}

namespace svc::scheduler {
class Capacity;
class CpuIdleThrottle;
class CpuLimiter;
}  // namespace svc::scheduler

namespace svc::ingress {
class Proxy;
}
namespace svc::api {
class ApiServer;
class Dispatcher;
class TlsContext;
}  // namespace svc::api

namespace svc::metrics {
class Registry;
}  // namespace svc::metrics

namespace svc::billing {
class TaskUsageRecorder;
class InstanceUsageRecorder;
class InstanceBilling;
class BilledControlPlane;
class UsageApi;
class UsageMeter;
class UsageProbe;
}  // namespace svc::billing

namespace svc::daemon {

class Store;
class SqlUsageStore;
class TokenManager;
class SqlAuditStore;
class TaskSystem;
class ApiImageBackend;
class ApiTaskBackend;
class ApiServiceBackend;
class ServiceSystem;
class ScheduleSystem;
class NodeDrain;

class Daemon {
 public:
  static Result<std::unique_ptr<Daemon>> start(const Config& config);
  ~Daemon();

  // Closes the listeners, lets in-flight calls finish for up to grace, closes the store.
  void stop(std::chrono::milliseconds grace);

  // The watchdog's question (main.cpp asks it every WATCHDOG_USEC/2): can svcd still record
  // what happens? A write to the store within its busy timeout, so that a deadlocked store, a
  // database another process keeps locked or a disk that stopped taking writes all stop the
  // pets, and systemd restarts svcd (tasks keep running under their shims).
  Result<> check_health();

  // SIGHUP: reads again what can change without a restart — the API's TLS certificate, key and
  // client CA (rotation). A reload that fails keeps what is in use and says why.
  Result<> reload();

  // For the task controller: pulls, leases and rootfs dirs.
  images::ImageService& images() { return *images_; }

 private:
  Daemon() = default;
  // /metrics (on the API socket and on the ingress port): every module's series.
  std::string scrape();
  Config config_;
  SystemClock clock_;
  std::chrono::system_clock::time_point started_at_;
  // Every module reports into it; /metrics renders it. Made first and released last, after
  // the API server (the only reader) and every component its collectors read.
  std::unique_ptr<metrics::Registry> metrics_;
  UniqueFd lock_fd_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<TokenManager> tokens_;
  std::unique_ptr<SqlAuditStore> audit_;  // outlives the dispatcher, whose observer writes it
  std::unique_ptr<images::ImageService> images_;
  std::unique_ptr<SqlUsageStore> usage_store_;
  std::unique_ptr<billing::TaskUsageRecorder> usage_recorder_;
  // The node's one admission ledger: tasks ("task:<id>") and service instances
  // ("instance:<id>") reserve their requests here. Outlives the controllers that hold it.
  std::unique_ptr<scheduler::Capacity> capacity_;
  std::unique_ptr<TaskSystem> tasks_;
  std::unique_ptr<billing::UsageProbe> usage_probe_;
  std::unique_ptr<billing::UsageMeter> usage_meter_;
  std::unique_ptr<billing::UsageApi> usage_api_;
  // Service instances' billing and request mode's CPU idle throttle: the proxy (owned by
  // services_) calls billed_control_, which feeds the recorder and the throttle; the store of
  // services_ writes through instance_billing_. All outlive services_.
  std::unique_ptr<billing::InstanceUsageRecorder> instance_recorder_;
  std::unique_ptr<scheduler::CpuLimiter> cpu_limiter_;
  std::unique_ptr<scheduler::CpuIdleThrottle> cpu_throttle_;
  std::unique_ptr<billing::InstanceBilling> instance_billing_;
  std::unique_ptr<billing::BilledControlPlane> billed_control_;
  std::unique_ptr<ServiceSystem> services_;
  // Cron schedules: started after the tasks recovered, stopped before the tasks shut down.
  std::unique_ptr<ScheduleSystem> schedules_;
  ingress::Proxy* proxy_ = nullptr;  // owned by services_ (its data plane); null: ingress off
  // svctl node drain/resume over the ledger and both controllers: released before them.
  std::unique_ptr<NodeDrain> node_drain_;
  // The API's ports over the modules (daemon/adapters/api_*): released after the API server.
  std::unique_ptr<ApiImageBackend> api_images_;
  std::unique_ptr<ApiTaskBackend> api_tasks_;
  std::unique_ptr<ApiServiceBackend> api_services_;
  std::unique_ptr<api::Dispatcher> dispatcher_;
  std::unique_ptr<api::TlsContext> tls_;  // outlives the API server, whose connections use it
  std::unique_ptr<api::ApiServer> api_;
  std::string node_id_;
  std::mutex scrape_mu_;
  bool scrape_open_ = false;  // from the end of start() to the beginning of stop()
};

// Takes the state dir's lock file, or says which svcd holds it.
Result<UniqueFd> lock_state_dir(const std::filesystem::path& state_dir);

}  // namespace svc::daemon
