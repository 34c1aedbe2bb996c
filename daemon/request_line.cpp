#include "daemon/request_line.hpp"

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "common/clock.hpp"

namespace svc::daemon {

using json = nlohmann::json;
using Millis = std::chrono::milliseconds;

std::string encode_request(const ingress::RequestRecord& r) {
  json j = {{"t", unix_millis(r.time)},
            {"svc", r.service},
            {"rev", r.revision},
            {"inst", r.instance},
            {"m", r.method},
            {"p", r.path},
            {"s", r.status},
            {"ms", r.duration.count()},
            {"in", r.request_bytes},
            {"out", r.response_bytes},
            {"c", r.client}};
  if (r.cold_start)
    j["cold"] = {r.cold_start->queue.count(), r.cold_start->sandbox.count(),
                 r.cold_start->readiness.count(), r.cold_start->first_byte.count()};
  // Paths are the client's bytes: invalid UTF-8 is replaced, never an exception.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<ingress::RequestRecord> decode_request(std::string_view text) {
  try {
    json j = json::parse(text);
    ingress::RequestRecord r;
    r.time = from_unix_millis(j.at("t").get<std::int64_t>());
    r.service = j.value("svc", "");
    r.revision = j.value("rev", "");
    r.instance = j.value("inst", "");
    r.method = j.value("m", "");
    r.path = j.value("p", "");
    r.status = j.value("s", 0);
    r.duration = Millis(j.value("ms", std::int64_t{0}));
    r.request_bytes = j.value("in", std::uint64_t{0});
    r.response_bytes = j.value("out", std::uint64_t{0});
    r.client = j.value("c", "");
    if (j.contains("cold") && j["cold"].is_array() && j["cold"].size() == 4)
      r.cold_start = ingress::ColdStart{
          Millis(j["cold"][0].get<std::int64_t>()), Millis(j["cold"][1].get<std::int64_t>()),
          Millis(j["cold"][2].get<std::int64_t>()), Millis(j["cold"][3].get<std::int64_t>())};
    return r;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string describe_request(const ingress::RequestRecord& r) {
  std::string line = fmt::format("{} {} {} {}ms", r.method.empty() ? "-" : r.method,
                                 r.path.empty() ? "-" : r.path, r.status, r.duration.count());
  line += " " + (r.instance.empty() ? std::string("(no instance)") : r.instance);
  if (r.cold_start)
    line += fmt::format(" cold start (queue {}ms, sandbox {}ms, readiness {}ms, first byte {}ms)",
                        r.cold_start->queue.count(), r.cold_start->sandbox.count(),
                        r.cold_start->readiness.count(), r.cold_start->first_byte.count());
  return line;
}

}  // namespace svc::daemon
