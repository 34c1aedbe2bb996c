#pragma once
// What every io thread of one proxy shares: its options, the injected clock, the control plane,
// the activator and the proxy-wide counters. Owned by the Proxy; outlives its workers.
#include <atomic>
#include <string>

#include "common/clock.hpp"
#include "scheduler/ingress/activator.hpp"
#include "scheduler/ingress/host_routing.hpp"
#include "scheduler/ingress/metrics.hpp"
#include "scheduler/ingress/options.hpp"
#include "scheduler/ingress/ports.hpp"

namespace svc::ingress {

struct ProxyContext {
  ProxyContext(ProxyOptions o, ControlPlane& cp, const Clock& c)
      : options(std::move(o)),
        domain(normalize_domain(options.domain)),
        clock(c),
        control(cp),
        activator(c, cp) {}

  const ProxyOptions options;
  const std::string domain;  // lower-case, no leading or trailing dot
  const Clock& clock;
  ControlPlane& control;
  Activator activator;
  ProxyCounters counters;
  std::atomic<bool> stopping{false};  // no keep-alive, no new connections
};

}  // namespace svc::ingress
