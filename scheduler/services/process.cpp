#include "scheduler/services/process.hpp"

#include <algorithm>

#include "scheduler/tasks/launch.hpp"

namespace svc::services {

scheduler::TaskSpec process_spec(const ServiceSpec& s, const std::string& hostname) {
  scheduler::TaskSpec t;
  t.name = hostname;
  t.image = s.image;
  t.entrypoint = s.entrypoint;
  t.reset_entrypoint = s.reset_entrypoint;
  t.args = s.args;
  t.env = s.env;
  t.labels = s.labels;
  t.workdir = s.workdir;
  t.user = s.user;
  t.cpu_millis = s.cpu_millis;
  t.memory_bytes = s.memory_bytes;
  t.pids = s.pids;
  t.network = s.network;
  t.stop_signal = s.stop_signal;
  t.stop_grace = s.stop_grace;
  return t;
}

Result<scheduler::LaunchSpec> make_instance_launch(const Revision& rev,
                                                   const std::string& instance_id,
                                                   const scheduler::ResolvedImage& image,
                                                   const scheduler::Resources& resources) {
  scheduler::Task task;
  task.id = instance_id;
  // A host name is at most 63 bytes (the instance id may be longer).
  task.spec = process_spec(rev.spec, instance_id.substr(0, 63));
  auto has = [&](std::string_view key) {
    return std::any_of(task.spec.env.begin(), task.spec.env.end(),
                       [&](const auto& kv) { return kv.first == key; });
  };
  // Cloud Run's contract: the app reads the port to listen on from PORT.
  if (!has("PORT")) task.spec.env.emplace_back("PORT", std::to_string(rev.spec.port));
  if (!has("K_SERVICE")) task.spec.env.emplace_back("K_SERVICE", rev.service);
  if (!has("K_REVISION")) task.spec.env.emplace_back("K_REVISION", rev.name);
  auto launch = make_launch_spec(task, image);
  if (!launch)
    return tl::unexpected(std::move(launch).error().context(fmt::format("revision {}", rev.name)));
  launch->cpu_millis = resources.cpu_limit_millis;
  launch->memory_bytes = resources.memory_limit_bytes;
  launch->pids = resources.pids;
  // As a task's: the CPU request is the cgroup's weight under contention.
  launch->cpu_request_millis = resources.cpu_request_millis;
  launch->memory_request_bytes = resources.memory_request_bytes;
  return launch;
}

}  // namespace svc::services
