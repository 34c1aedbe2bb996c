#pragma once
// Readiness probing of a started instance: a TCP connect to its port through make_socket (or a
// GET of Readiness::http_path that must answer 2xx/3xx), polled fast at first and backing off,
// so an app that starts listening is noticed within ~0.1 ms instead of a probe period. The
// connection a TCP probe made is kept for the first request (one connect less on the cold
// path). Probing stops when the instance is drained, removed or replaced, or the proxy stops.
#include <chrono>
#include <memory>

namespace svc::ingress {

class Worker;
class Instance;

// The wait before the next probe, given how long probing has gone on: every 100 us for the
// first 25 ms, then a 25th of the time waited so far (so noticing late costs at most ~4 %),
// at most 10 ms.
std::chrono::nanoseconds probe_interval(std::chrono::nanoseconds elapsed);

// Probes on worker (its thread) until ready (Activator::mark_ready), given up after
// Readiness::timeout (mark_not_ready, with the last error), or no longer wanted.
void start_probe(Worker& worker, std::shared_ptr<Instance> instance);

}  // namespace svc::ingress
