#pragma once
// The ingress proxy: svc's data plane for services, as a library the daemon starts.
//
//   auto proxy = SVC_TRY(ingress::Proxy::start(options, control_plane, clock));
//   proxy->port();                 // the bound port (tests listen on 127.0.0.1:0)
//   proxy->set_route(...);         // it is the DataPlane of ports.hpp
//   proxy->metrics_text();         // svc_ingress_* for the daemon's /metrics
//   proxy->stop(grace);            // or destroy it
//
// Asynchronous on Boost.Asio: `threads` io threads, each with its own io_context, connections
// accepted round-robin onto them and pinned there. No Asio or Beast in this header, so the
// daemon's files that include it stay cheap to compile.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "scheduler/ingress/options.hpp"
#include "scheduler/ingress/ports.hpp"

namespace svc::ingress {

class Proxy final : public DataPlane {
 public:
  // Binds options.listen and starts the io threads. A listen address that cannot be bound (in
  // use, not local, bad syntax) is an error saying which and what to do. The control plane and
  // the clock must outlive the proxy.
  static Result<std::unique_ptr<Proxy>> start(ProxyOptions options, ControlPlane& control,
                                              const Clock& clock);
  ~Proxy() override;  // stop(0) if not stopped
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  std::uint16_t port() const;
  std::string listen_address() const;  // "127.0.0.1:8080" as bound
  // Stops accepting, answers held requests 503, lets requests in progress finish for up to
  // grace, then closes every connection and joins the io threads. Idempotent.
  void stop(Millis grace);
  // Prometheus text (svc_ingress_*) for every service the proxy routes.
  std::string metrics_text() const;

  // DataPlane (ports.hpp)
  void set_route(ServiceRoute route) override;
  void remove_route(const std::string& service) override;
  void add_instance(InstanceEndpoint endpoint, Readiness readiness) override;
  void drain_instance(const std::string& instance_id) override;
  void remove_instance(const std::string& instance_id, std::string why) override;
  void fail_waiting(const std::string& revision, std::string why, int status = 502) override;
  std::vector<RevisionLoad> load() const override;

 private:
  struct Impl;
  explicit Proxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace svc::ingress
