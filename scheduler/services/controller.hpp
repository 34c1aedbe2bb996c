#pragma once
// The service controller: services and their revisions, the instances that exist, the
// autoscaler of each revision, rollouts, crash back-off and conditions, and re-adoption after
// svcd restarts. It is the ControlPlane of scheduler/ingress/ports.hpp and drives a DataPlane;
// it reaches images, sandboxes, storage and the node's capacity only through ports, so it is
// unit-tested with fakes on a fake clock.
//
// An instance's life: the autoscaler wants one more -> capacity reserved ("instance:<id>"),
// record written, sandbox launched on the executor -> DataPlane::add_instance (the data plane
// probes it and routes to it; on_ready) -> ... -> fewer wanted, or idle-timeout: drain_instance
// -> on_drained -> stop (stop signal, SIGKILL after the grace period, done by the shim) -> exit
// -> remove_instance, logs archived, sandbox removed, capacity released. A crash on the way is
// the same exit, early: the data plane answers what was in flight with 502, and the revision's
// back-off decides when the replacement starts.
//
// Threading: one mutex guards the tables; every decision is made under it as a plain plan
// (Actions) that is carried out after it is released, so the lock is never held across a call
// to the data plane, the runtime or the image source. ControlPlane callbacks come on the data
// plane's io threads and only post work (or touch the stats lock). Blocking work (launches,
// stops, image resolution) runs on the Executor. A scale pass runs every `tick` (100 ms) and at
// once when the data plane reports held requests (on_demand).
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "scheduler/capacity.hpp"
#include "scheduler/ingress/ports.hpp"
#include "scheduler/resources.hpp"
#include "scheduler/services/autoscaler.hpp"
#include "scheduler/services/backoff.hpp"
#include "scheduler/services/ports.hpp"
#include "scheduler/services/service.hpp"
#include "scheduler/services/status.hpp"
#include "scheduler/tasks/ports.hpp"

namespace svc::services {

class ServiceController final : public ingress::ControlPlane {
 public:
  struct Options {
    scheduler::ResourceDefaults resources;  // what an instance without --cpu/--memory requests
    scheduler::ValidationLimits limits;
    BackoffPolicy backoff;
    Millis tick{100};
  };

  ServiceController(ServiceStore& store, scheduler::ImageSource& images,
                    scheduler::TaskRuntime& runtime, scheduler::Executor& executor,
                    scheduler::Capacity& capacity, InstanceNetwork& network, ServiceLogs& logs,
                    const Clock& clock, Options options);
  ~ServiceController() override;
  ServiceController(const ServiceController&) = delete;
  ServiceController& operator=(const ServiceController&) = delete;

  // The data plane to drive; before recover() and start().
  void attach(ingress::DataPlane& data_plane);
  // At start: loads services, revisions and instances, re-adopts every instance whose sandbox
  // still runs (routed again once its probe passes) and cleans up the rest. node_rebooted: the
  // machine restarted, so no sandbox of before can run.
  Result<> recover(bool node_rebooted);
  // Starts the periodic scale pass.
  void start();
  // svcd is stopping: no more decisions. Instances keep running; recover() re-adopts them.
  void shutdown();

  // Creates the service, or a new revision when the spec changed (rolled out with no dropped
  // request), or nothing when it did not. Resolves the image (pulls when missing) first.
  Result<DeployResult> deploy(ServiceSpec spec, const std::atomic<bool>& cancel);
  Result<ServiceStatus> get(std::string_view name) const;
  std::vector<ServiceStatus> list() const;
  // Removes the service: its route goes at once (404), its instances drain and stop.
  Result<> remove(std::string_view name);
  // Drains every instance (svctl node drain): each finishes the requests it has, then stops;
  // none starts again while the node's capacity is cordoned. Returns how many it drained.
  int drain_all(std::string message);
  InstanceCounts counts() const;
  // Whether the controller knows the instance (it runs, starts or drains).
  bool has_instance(std::string_view id) const;

  // Runs one scale pass now (the tick does it; tests call it on a fake clock).
  void scale_pass();

  // ingress::ControlPlane
  void on_demand(const std::string& revision, std::size_t waiting) override;
  void on_ready(const std::string& instance_id, SteadyTime at) override;
  void on_not_ready(const std::string& instance_id, std::string why) override;
  void on_drained(const std::string& instance_id) override;
  void on_busy(const std::string& instance_id, bool busy, SteadyTime at) override;
  void on_upstream_error(const std::string& instance_id, std::string why) override;
  void on_request(const ingress::RequestRecord& record) override;

 private:
  struct InstanceEntry {
    Instance inst;
    scheduler::Amount reserved;
    SteadyTime start_requested{};
    std::optional<SteadyTime> sandbox_started;
    std::optional<SteadyTime> ready_since;
    bool launching = false;  // a launch (or adoption) job is running for it
    bool routed = false;     // the data plane knows it
    bool stopping = false;   // the runtime was asked to stop it
    int stop_signal = 15;    // the image's or the spec's, known once launched
    Millis stop_grace{10'000};
  };
  struct RevisionEntry {
    RevisionEntry(Revision r, BackoffPolicy policy)
        : rev(std::move(r)), scaler(rev.spec.scaling), backoff(policy) {}
    Revision rev;
    Autoscaler scaler;
    CrashBackoff backoff;
    std::optional<scheduler::ResolvedImage> image;  // resolved once, then reused
    bool leased = true;                             // holds revision_lease(<name>) on its image
    bool retired = false;                           // no traffic; its instances drain
    std::string retire_reason;
    bool capacity_short = false;  // the last start found no room on the node
    int desired = 0;
    ScaleDecision last;
    std::size_t waiting = 0;  // held requests at the last sample
    std::uint64_t retry_timer = 0;
    double last_integral = 0;
    std::uint64_t last_requests = 0;
  };
  struct ServiceEntry {
    Service svc;
    std::string rollout_to;  // the revision being rolled to, "" when none
    int rollout_target = 0;  // ready instances it needs before it takes the traffic
    std::map<std::string, Condition> conditions;
  };
  // A plan made under the lock, carried out after it is released (run()).
  struct Launch {
    std::string id;
    Revision revision;
    std::optional<scheduler::ResolvedImage> image;
    scheduler::Resources resources;
    bool adopt = false;  // the sandbox runs already: watch and route it, launch nothing
  };
  struct Stop {
    std::string id;
    int signal = 15;
    Millis grace{0};
  };
  struct Actions {
    std::vector<ingress::ServiceRoute> routes;
    std::vector<std::string> unroutes;
    std::vector<Launch> launches;
    std::vector<std::string> drains;
    std::vector<std::pair<std::string, std::string>> removals;  // data plane: (id, why)
    struct FailWaiting {
      std::string revision, why;
      int status = 502;  // 503: no start could begin (no room, node drained)
    };
    std::vector<FailWaiting> fail_waiting;
    std::vector<Stop> stops;
    std::vector<std::pair<std::string, std::string>> archives;  // (service, id): keep logs
    std::vector<std::string> kills;     // sandboxes nobody wants: SIGKILL and remove
    std::vector<std::string> releases;  // image leases (revision_lease(<name>))
    bool rescan = false;                // another scale pass right after this one
  };
  using Lock = std::unique_lock<std::mutex>;

  // controller.cpp
  void run(Actions a);
  ServiceStatus status_locked(const ServiceEntry& s) const;
  // The data plane's counts now (in flight, requests served) over the instances of statuses
  // made under the lock, which hold those of the last scale pass. Without mu_: the data plane
  // takes its own locks.
  void with_live_load(std::vector<ServiceStatus>& statuses) const;
  ingress::ServiceRoute route_locked(const ServiceEntry& s) const;
  void set_condition_locked(ServiceEntry& s, const std::string& type, bool status,
                            std::string reason, std::string message);
  void persist_service_locked(const ServiceEntry& s);
  void persist_instance_locked(const InstanceEntry& e);
  ServiceEntry* service_of_locked(const RevisionEntry& r);
  void request_scale();

  // scaling.cpp
  void tick();
  void plan_revision_locked(RevisionEntry& r, SteadyTime now, Actions& a);
  void plan_rollout_locked(ServiceEntry& s, Actions& a);
  void start_instances_locked(RevisionEntry& r, int count, SteadyTime now, Actions& a);
  // False when the instance drains or stopped already.
  bool drain_locked(InstanceEntry& e, std::string_view reason, std::string message, Actions& a);
  void retire_locked(RevisionEntry& r, std::string_view reason, Actions& a);
  void failed_start_locked(RevisionEntry& r, const std::string& why,
                           std::optional<Millis> ready_for, Actions& a);
  void arm_retry_locked(RevisionEntry& r, SteadyTime now);
  struct Counts {
    int ready = 0, starting = 0, draining = 0;
  };
  Counts count_locked(const std::string& revision) const;
  scheduler::Resources resources_of(const ServiceSpec& spec) const;

  // lifecycle.cpp
  void launch(Launch job);
  void launch_failed(const std::string& id, const std::string& why);
  void handle_exit(const std::string& id, const scheduler::ExitInfo& info);
  void handle_ready(const std::string& id, SteadyTime at);
  void handle_not_ready(const std::string& id, const std::string& why);
  void handle_drained(const std::string& id);
  void watch(const std::string& id);

  ServiceStore& store_;
  scheduler::ImageSource& images_;
  scheduler::TaskRuntime& runtime_;
  scheduler::Executor& executor_;
  scheduler::Capacity& capacity_;
  InstanceNetwork& network_;
  ServiceLogs& logs_;
  const Clock& clock_;
  const Options options_;
  ingress::DataPlane* data_plane_ = nullptr;
  std::atomic<bool> scale_pending_{false};
  std::atomic<bool> stopping_{false};

  std::mutex deploy_mu_;  // serialises deploy() and remove(); taken before mu_
  mutable std::mutex mu_;
  std::map<std::string, ServiceEntry, std::less<>> services_;
  std::map<std::string, RevisionEntry, std::less<>> revisions_;
  std::map<std::string, InstanceEntry, std::less<>> instances_;
  std::uint64_t tick_timer_ = 0;
  bool ticking_ = false;

  // Request statistics, apart from mu_: on_request comes on every proxied request.
  mutable std::mutex stats_mu_;
  std::map<std::string, ServiceStats, std::less<>> stats_;
};

}  // namespace svc::services
