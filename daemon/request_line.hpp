#pragma once
// One proxied request as a line of a service's request log: the text of a CRI log line is a
// JSON object (so the record round-trips), and people read it as Cloud Run prints its request
// log: "GET /path 200 3ms hello-00001-3fa9c210".
#include <optional>
#include <string>
#include <string_view>

#include "scheduler/ingress/ports.hpp"

namespace svc::daemon {

std::string encode_request(const ingress::RequestRecord& record);
// nullopt for a line that is not one (a torn write after a crash).
std::optional<ingress::RequestRecord> decode_request(std::string_view json);
// "GET /hello 200 3ms hello-00001-3fa9c210 cold start 6ms (queue 0ms, sandbox 5ms, ...)"
std::string describe_request(const ingress::RequestRecord& record);

}  // namespace svc::daemon
