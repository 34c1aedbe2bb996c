#include "isolation/exit_record.hpp"

#include <nlohmann/json.hpp>

namespace svc::isolation {

Result<ExitRecord> parse_exit_record(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    ExitRecord r;
    r.exit_code = j.value("exit_code", -1);
    r.signal = j.value("signal", 0);
    r.core_dumped = j.value("core_dumped", false);
    r.oom_killed = j.value("oom_killed", false);
    r.oom_kills = j.value("oom_kills", std::uint64_t{0});
    r.cpu_seconds = j.value("cpu_seconds", 0.0);
    r.memory_peak_bytes = j.value("memory_peak_bytes", std::uint64_t{0});
    r.error = j.value("error", std::string());
    r.shim_lost = j.value("shim_lost", false);
    std::string started = j.value("started_at", std::string());
    if (!started.empty()) r.started_at = SVC_TRY_CTX(parse_rfc3339(started), "started_at");
    std::string exited = j.value("exited_at", std::string());
    if (!exited.empty()) r.exited_at = SVC_TRY_CTX(parse_rfc3339(exited), "exited_at");
    return r;
  } catch (const std::exception& e) {
    return fail(Code::kDataLoss, "exit record: {}", e.what());
  }
}

std::string to_json(const ExitRecord& r) {
  nlohmann::json j = {
      {"exit_code", r.exit_code},
      {"signal", r.signal},
      {"core_dumped", r.core_dumped},
      {"oom_killed", r.oom_killed},
      {"oom_kills", r.oom_kills},
      {"started_at", r.started_at ? format_rfc3339_nano(*r.started_at) : std::string()},
      {"exited_at", format_rfc3339_nano(r.exited_at)},
      {"cpu_seconds", r.cpu_seconds},
      {"memory_peak_bytes", r.memory_peak_bytes},
      {"error", r.error},
  };
  if (r.shim_lost) j["shim_lost"] = true;
  return j.dump();
}

}  // namespace svc::isolation
