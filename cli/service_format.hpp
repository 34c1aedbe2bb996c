#pragma once
// How services read in a terminal: their status in a word or two, instance counts, latency
// summaries and cold-start phases, for `svctl services`, `service describe` and `service
// instances`.
#include <string>

#include <google/protobuf/duration.pb.h>

#include "svc/v1/services.pb.h"

namespace svc::cli {

// "Ready", "Scaled to zero", "Starting", "Failing: StartFailed", "Rolling out" — from the
// service's Ready and Rollout conditions.
std::string service_status(const v1::Service& s);
// "2/3" ready of desired for the serving revision (desired counts every revision's).
std::string ready_of_desired(const v1::Service& s);
std::string instance_state(v1::Instance::State s);  // "ready", "starting", ...
// "3.2ms", "120ms", "1.4s" (one or two significant decimals).
std::string millis(double ms);
std::string duration_text(const google::protobuf::Duration& d);
// "p50 3.1ms, p90 5ms, p99 12ms (mean 3.4ms, 120 requests)", or "-" with none.
std::string latency_text(const v1::LatencySummary& l);
// "8ms = queue 0ms + sandbox 5ms + readiness 1ms + first byte 2ms"
std::string last_cold_start_text(const v1::ColdStartStats& c);
// "12 (2xx 10, 5xx 2)"
std::string requests_text(const v1::ServiceStats& s);

}  // namespace svc::cli
