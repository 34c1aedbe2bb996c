#include "scheduler/ingress/cold_start.hpp"

#include <algorithm>
#include <cstdio>

namespace svc::ingress {

namespace {

void append_ms(std::string& out, std::chrono::nanoseconds d) {
  char buf[32];
  double ms = std::chrono::duration<double, std::milli>(d).count();
  int n = std::snprintf(buf, sizeof buf, "%.3f", ms < 0 ? 0.0 : ms);
  while (n > 1 && buf[n - 1] == '0') --n;
  if (n > 1 && buf[n - 1] == '.') --n;
  out.append(buf, static_cast<std::size_t>(n));
}

Millis round_ms(std::chrono::nanoseconds d) {
  return std::chrono::round<Millis>(std::max(d, std::chrono::nanoseconds(0)));
}

}  // namespace

ColdPhases cold_phases(SteadyTime arrival, std::optional<SteadyTime> start_requested,
                       std::optional<SteadyTime> sandbox_started, SteadyTime ready) {
  ready = std::max(ready, arrival);
  SteadyTime asked = std::clamp(start_requested.value_or(arrival), arrival, ready);
  SteadyTime running = std::clamp(sandbox_started.value_or(asked), asked, ready);
  ColdPhases p;
  p.queue = asked - arrival;
  p.sandbox = running - asked;
  p.readiness = ready - running;
  return p;
}

ColdStart to_cold_start(const ColdPhases& p) {
  return ColdStart{round_ms(p.queue), round_ms(p.sandbox), round_ms(p.readiness),
                   round_ms(p.first_byte)};
}

void append_server_timing(std::string& out, const ColdPhases& p) {
  out += "queue;dur=";
  append_ms(out, p.queue);
  out += ", sandbox;dur=";
  append_ms(out, p.sandbox);
  out += ", readiness;dur=";
  append_ms(out, p.readiness);
  out += ", first-byte;dur=";
  append_ms(out, p.first_byte);
}

}  // namespace svc::ingress
