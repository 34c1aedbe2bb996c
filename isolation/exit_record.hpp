#pragma once
// How a sandbox's task ended, as the shim records it in <sandbox>/exit.json (written atomically
// before anyone is told), read back by the runtime, the exit monitor and svc-runtime.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "isolation/rfc3339.hpp"

namespace svc::isolation {

struct ExitRecord {
  int exit_code = -1;  // the exit status; 128+N when killed by signal N
  int signal = 0;      // the terminating signal, 0 when it exited
  bool core_dumped = false;
  bool oom_killed = false;  // the cgroup's OOM killer fired (read by the shim at exit)
  std::uint64_t oom_kills = 0;
  std::optional<TimePoint> started_at;  // empty when it was never started
  TimePoint exited_at{};
  double cpu_seconds = 0;  // final, read before the cgroup is removed
  std::uint64_t memory_peak_bytes = 0;
  std::string error;       // why it never ran (exec failure), or "shim lost"
  bool shim_lost = false;  // the shim died without writing a record
};

Result<ExitRecord> parse_exit_record(std::string_view json);
std::string to_json(const ExitRecord& record);

}  // namespace svc::isolation
