#include "daemon/metrics/node_metrics.hpp"

#include "common/version.hpp"
#include "scheduler/capacity.hpp"
#include "scheduler/tasks/controller.hpp"

namespace svc::daemon {

namespace sch = svc::scheduler;
using metrics::Sample;
using metrics::Type;

void register_node_metrics(metrics::Registry& r, const NodeMetricsSources& s) {
  r.gauge("svc_build_info", "The running svcd's version and commit (always 1).",
          {"version", "commit"})
      .with({svc::version(), svc::git_commit()})
      .set(1);
  const double start = std::chrono::duration<double>(s.started_at.time_since_epoch()).count();
  r.gauge("svc_start_time_seconds", "When svcd started, in unix seconds.").get().set(start);
  r.collect("svc_uptime_seconds", "Seconds since svcd started.", Type::kGauge, {}, [start] {
    double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    return std::vector<Sample>{{{}, now - start}};
  });

  r.gauge("svc_node_allocatable_cpus", "vCPUs the node admits sandboxes against ([node] cpus).")
      .get()
      .set(static_cast<double>(s.allocatable_cpu_millis) / 1000.0);
  r.gauge("svc_node_allocatable_memory_bytes",
          "Memory the node admits sandboxes against ([node] memory).")
      .get()
      .set(static_cast<double>(s.allocatable_memory_bytes));
  if (const sch::Capacity* capacity = s.capacity) {
    r.collect("svc_node_requested_cpus", "vCPUs requested by the sandboxes admitted now.",
              Type::kGauge, {}, [capacity] {
                return std::vector<Sample>{
                    {{}, static_cast<double>(capacity->reserved().cpu_millis) / 1000.0}};
              });
    r.collect("svc_node_requested_memory_bytes", "Memory requested by the sandboxes admitted now.",
              Type::kGauge, {}, [capacity] {
                return std::vector<Sample>{
                    {{}, static_cast<double>(capacity->reserved().memory_bytes)}};
              });
  }
  const sch::TaskController* tasks = s.tasks;
  if (!tasks) return;
  r.collect("svc_tasks", "Tasks svcd holds, by state.", Type::kGauge, {"state"}, [tasks] {
    auto counts = tasks->count_by_state();
    std::vector<Sample> out;
    // Every state, zeros included, so a dashboard's series do not appear and vanish.
    for (sch::TaskState st :
         {sch::TaskState::kPending, sch::TaskState::kPulling, sch::TaskState::kStarting,
          sch::TaskState::kRunning, sch::TaskState::kStopping, sch::TaskState::kStopped}) {
      auto it = counts.find(st);
      out.push_back({{std::string(sch::state_name(st))},
                     static_cast<double>(it == counts.end() ? 0 : it->second)});
    }
    return out;
  });
}

}  // namespace svc::daemon
