#pragma once
// The phases of a cold start as the request that waited for it saw them, and their rendering as
// a standard Server-Timing header (W3C Server Timing, "name;dur=<ms>") on its response:
//   Server-Timing: queue;dur=0.2, sandbox;dur=4.8, readiness;dur=0.6, first-byte;dur=0.4
// Pure functions; the phases partition the wait from arrival to readiness exactly.
#include <chrono>
#include <optional>
#include <string>

#include "scheduler/ingress/ports.hpp"

namespace svc::ingress {

// ColdStart (ports.hpp) in whole milliseconds is what the request log carries; the header and
// the histograms use these, with the precision the clock has.
struct ColdPhases {
  std::chrono::nanoseconds queue{0};       // arrival -> the sandbox was asked for
  std::chrono::nanoseconds sandbox{0};     // -> its process runs
  std::chrono::nanoseconds readiness{0};   // -> the port answered the probe
  std::chrono::nanoseconds first_byte{0};  // request sent -> first byte of the response
};

// Splits [arrival, ready] at the instance's start times. A request that arrived after the
// sandbox was asked for (it joined a start in progress) has no queue phase; times the control
// plane did not give (a re-adopted instance) count as zero-length phases.
ColdPhases cold_phases(SteadyTime arrival, std::optional<SteadyTime> start_requested,
                       std::optional<SteadyTime> sandbox_started, SteadyTime ready);

// Rounded to whole milliseconds, for RequestRecord::cold_start.
ColdStart to_cold_start(const ColdPhases& p);

// Appends "queue;dur=0.2, sandbox;dur=4.8, readiness;dur=0.6, first-byte;dur=0.4" (ms with up
// to three decimals, trailing zeros dropped).
void append_server_timing(std::string& out, const ColdPhases& p);

}  // namespace svc::ingress
