#pragma once
// The data plane's routing table and activator, as logic without sockets: services and their
// traffic split, revisions and their instances, the bounded per-service queue of requests held
// while no instance has a free slot, the slots themselves (at most `concurrency` requests per
// instance), drain, and the exact load the autoscaler reads. The proxy's io threads call it for
// every request; the control plane's DataPlane calls land here too. Tested on a fake clock.
//
// Thread-safety: one mutex guards all of it (held for microseconds: no I/O, no callbacks under
// it). Outcomes for held requests (Waiter::granted / rejected) are delivered after the mutex is
// released, on the calling thread. ControlPlane callbacks are queued under the mutex and
// delivered after it, in the order the state changed, by one thread at a time (so busy/idle
// edges never arrive out of order) — never with a lock held, so the control plane may call back.
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "scheduler/ingress/cold_start.hpp"
#include "scheduler/ingress/metrics.hpp"
#include "scheduler/ingress/ports.hpp"

namespace svc::ingress {

class Activator;
class Revision;

// One instance as the data plane knows it. Shared by the routing table, the leases on it and
// the pooled connections to it (keyed by serial), so it outlives its removal until the last of
// them lets go.
class Instance {
 public:
  Instance(InstanceEndpoint ep, Readiness r, std::uint64_t serial_number)
      : endpoint(std::move(ep)), readiness(std::move(r)), serial(serial_number) {}

  const InstanceEndpoint endpoint;
  const Readiness readiness;
  const std::uint64_t serial;  // unique for the proxy's life (ids may come back)
  // Readable without the lock: pooled connections are kept only while routable; a connection
  // to a gone instance is never used.
  std::atomic<bool> routable{false};
  std::atomic<bool> gone{false};

 private:
  friend class Activator;
  enum class State { kProbing, kReady, kNotReady, kDraining, kGone };
  // Guarded by Activator::mu_.
  std::shared_ptr<Revision> revision_;
  State state_ = State::kProbing;
  int in_flight_ = 0;
  std::uint64_t requests_total_ = 0;
  SteadyTime busy_since_{};
  std::chrono::nanoseconds busy_total_{0};
  SteadyTime ready_at_{};
  bool cold_pending_ = false;  // the next grant from the queue is the start's first request
};

// A revision: its instances and the requests held for it.
class Revision {
 public:
  Revision(std::string service_name, std::string revision_name, SteadyTime now)
      : service(std::move(service_name)), name(std::move(revision_name)), since_(now) {}
  const std::string service;
  const std::string name;

 private:
  friend class Activator;
  struct Held {
    std::shared_ptr<class Waiter> waiter;
    std::uint64_t wait_id;
    SteadyTime arrival;
  };
  // Guarded by Activator::mu_.
  std::vector<std::shared_ptr<Instance>> instances_;
  std::deque<Held> waiting_;
  std::size_t next_ = 0;  // where the next pick starts (ties rotate)
  int in_flight_ = 0;
  std::uint64_t requests_total_ = 0;
  // The integral of (in_flight + waiting) over time, in request-milliseconds.
  double concurrency_ms_ = 0;
  SteadyTime since_;
  bool routed_ = false;  // some route's traffic names it
};

// One slot on an instance, held by the exchange it was given to. Destroying it (or release())
// frees the slot, and the next held request of the revision gets it.
class Lease {
 public:
  Lease() = default;
  Lease(Lease&& o) noexcept { *this = std::move(o); }
  Lease& operator=(Lease&& o) noexcept;
  ~Lease() { release(); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  explicit operator bool() const { return instance_ != nullptr; }
  const std::shared_ptr<Instance>& instance() const { return instance_; }
  // Set when the request waited for this instance's start (Server-Timing and the record).
  const std::optional<ColdPhases>& cold() const { return cold_; }
  // The first request the start served: its phases are counted as the service's cold start.
  bool cold_primary() const { return primary_; }
  void release();

 private:
  friend class Activator;
  Activator* owner_ = nullptr;
  std::shared_ptr<Instance> instance_;
  std::optional<ColdPhases> cold_;
  bool primary_ = false;
};

// Whoever a held request belongs to (the exchange). Called after the activator's lock is
// released, on whatever thread changed the state: hand the outcome to your own executor. An
// outcome for a wait_id you no longer wait for is simply dropped (the Lease frees itself).
class Waiter {
 public:
  virtual ~Waiter() = default;
  virtual void granted(std::uint64_t wait_id, Lease lease) = 0;
  virtual void rejected(std::uint64_t wait_id, int status, std::string reason) = 0;
};

struct Admission {
  enum class Kind {
    kGranted,         // lease holds a slot
    kQueued,          // held: the Waiter hears granted() or rejected()
    kUnknownService,  // 404
    kNoRevision,      // 503: the route has no traffic target
    kQueueFull,       // 503 + Retry-After
    kShuttingDown,    // 503: the proxy is stopping
  };
  Kind kind = Kind::kUnknownService;
  Lease lease;
  std::shared_ptr<ServiceMetrics> metrics;  // all kinds but kUnknownService
  std::shared_ptr<Revision> revision;       // kGranted, kQueued
  Millis request_timeout{0};
};

class Activator {
 public:
  Activator(const Clock& clock, ControlPlane& control);
  ~Activator();
  Activator(const Activator&) = delete;
  Activator& operator=(const Activator&) = delete;

  // --- DataPlane (ports.hpp has the meanings) ---
  void set_route(ServiceRoute route);
  void remove_route(const std::string& service);
  // Registers a started instance (state probing) and returns it for the prober; an id already
  // known is replaced (the old one is removed as by remove_instance).
  std::shared_ptr<Instance> add_instance(InstanceEndpoint endpoint, Readiness readiness);
  void drain_instance(const std::string& id);
  // The removed instance (so the proxy can drop its pooled connections), or nullptr.
  std::shared_ptr<Instance> remove_instance(const std::string& id);
  void fail_waiting(const std::string& revision, const std::string& why, int status = 502);
  std::vector<RevisionLoad> load() const;

  // --- the readiness prober ---
  void mark_ready(const std::shared_ptr<Instance>& instance);
  void mark_not_ready(const std::shared_ptr<Instance>& instance, std::string why);
  // True while probing it is still wanted (not drained, removed or replaced).
  bool probing(const Instance& instance) const;

  // --- the request path ---
  // A request for service arrived at arrival: a slot now, or held (waiter hears later).
  Admission admit(std::string_view service, const std::shared_ptr<Waiter>& waiter,
                  std::uint64_t wait_id, SteadyTime arrival);
  // A held request gives up (deadline, client gone): true when it was still held (the caller
  // answers it); false when an outcome is already on its way.
  bool cancel(const Revision& revision, const Waiter* waiter, std::uint64_t wait_id);
  void report_upstream_error(const Instance& instance, std::string why);
  // A ready instance refused the proxy's connection (nothing listens on its port: its app
  // stopped, or is exiting): nothing new is routed to it, and the control plane hears
  // on_not_ready(why). What it has in flight is left to finish.
  void refused(const Instance& instance, std::string why);
  // A slot now on another ready instance of revision than avoid (which refused the proxy's
  // connection: nothing of the request reached it), or an empty lease. Never holds the request.
  Lease grant_other(const Revision& revision, const Instance& avoid);

  // Every routed service's counters and gauges, for Prometheus.
  std::vector<ServiceGauges> gauges() const;
  // Rejects every held request (503, why) and refuses new ones: the proxy is stopping.
  void shutdown(const std::string& why);

 private:
  friend class Lease;
  struct Service;
  struct Event;
  struct Outcome;
  using Lock = std::unique_lock<std::mutex>;

  void release(Lease& lease);
  std::shared_ptr<Revision> revision_locked(const std::string& service, const std::string& name,
                                            SteadyTime now);
  std::size_t pick_locked(Revision& rev, const Instance* avoid = nullptr);
  Lease grant_locked(const std::shared_ptr<Instance>& inst, SteadyTime now);
  // Grants held requests of rev while an instance has a free slot; those granted to cold_for
  // (an instance that just became ready) carry the phases of its start.
  void dispatch_locked(Revision& rev, SteadyTime now, std::vector<Outcome>& out,
                       const Instance* cold_for);
  void hold_locked(Service& svc, const std::shared_ptr<Revision>& rev, Revision::Held held,
                   SteadyTime now);
  void drop_waiting_locked(Revision& rev, std::vector<Outcome>& out, int status,
                           const std::string& why, SteadyTime now);
  std::shared_ptr<Instance> remove_locked(const std::string& id, SteadyTime now);
  void maybe_forget_locked(const std::shared_ptr<Revision>& rev);
  // Adds (in_flight + waiting) x (now - since) to rev's integral; call before changing either.
  void accrue_locked(Revision& rev, SteadyTime now);
  Service* service_of_locked(const Revision& rev);
  // Unlocks, delivers out to the waiters, then the queued events to the control plane.
  void finish(Lock& lock, std::vector<Outcome>& out);

  const Clock& clock_;
  ControlPlane& control_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Service>, std::less<>> services_;
  std::unordered_map<std::string, std::shared_ptr<Revision>> revisions_;
  std::unordered_map<std::string, std::shared_ptr<Instance>> instances_;
  std::uint64_t next_serial_ = 1;
  bool shut_down_ = false;
  std::vector<Event> events_;  // for the control plane, in order
  bool delivering_ = false;
};

}  // namespace svc::ingress
