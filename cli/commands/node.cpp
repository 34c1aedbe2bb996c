#include <iostream>

#include <google/protobuf/util/time_util.h>

#include "cli/context.hpp"
#include "common/units.hpp"

namespace svc::cli {

namespace {

std::string feature(const v1::Feature& f) {
  return fmt::format("{} ({})", f.usable() ? "yes" : "no", f.detail());
}

std::string mode_name(v1::CgroupInfo::Mode m) {
  switch (m) {
    case v1::CgroupInfo::V1:
      return "v1";
    case v1::CgroupInfo::V2:
      return "v2";
    case v1::CgroupInfo::HYBRID:
      return "hybrid (v1 controllers beside a cgroup2 mount)";
    default:
      return "unknown";
  }
}

}  // namespace

void add_node_commands(CLI::App& app, Context& ctx) {
  auto* node = app.add_subcommand("node", "about this node");
  node->require_subcommand(1);
  auto* info_cmd = node->add_subcommand("info", "what the node is and what its kernel allows");
  set_runner(info_cmd, [&ctx]() -> int {
    v1::NodeInfo info;
    auto call = ctx.client().context(std::chrono::seconds(10));
    auto status = ctx.client().node().Info(call.get(), v1::NodeInfoRequest(), &info);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, info);
      return kExitOk;
    }
    using google::protobuf::util::TimeUtil;
    Fields f;
    f.add("Node", info.node_id());
    f.add("Hostname", info.hostname());
    f.add("svcd", fmt::format("{} ({})", info.version(), info.git_commit()));
    f.add("OS", info.os());
    f.add("Kernel", info.kernel());
    f.add("Architecture", info.architecture());
    f.add("CPUs", fmt::format("{} (allocatable {})", info.cpus(),
                              format_cpu_millis(info.allocatable_cpu_millis())));
    f.add("Memory", fmt::format("{} (allocatable {})",
                                format_size_human(static_cast<std::uint64_t>(info.memory_bytes())),
                                format_size_human(
                                    static_cast<std::uint64_t>(info.allocatable_memory_bytes()))));
    f.add("Cgroups", fmt::format("{}, driver {}", mode_name(info.cgroup().mode()),
                                 info.cgroup().driver().empty() ? "none" : info.cgroup().driver()));
    std::string controllers;
    for (const auto& c : info.cgroup().controllers())
      controllers += fmt::format("{}{} ({}{})", controllers.empty() ? "" : ", ", c.name(),
                                 c.version(), c.usable() ? "" : ", unusable");
    f.add("Controllers", controllers);
    f.add("User namespaces", feature(info.user_namespaces()));
    f.add("Overlayfs", feature(info.overlayfs()));
    f.add("Seccomp", feature(info.seccomp()));
    f.add("Idmapped mounts", feature(info.idmapped_mounts()));
    const auto& kvm = info.kvm();
    f.add("KVM",
          !kvm.device_present()
              ? std::string("no (/dev/kvm does not exist)")
              : fmt::format("{} ({})", kvm.usable_for_vms() ? "usable" : "not usable for VMs",
                            kvm.detail()));
    f.add("State dir", info.state_dir());
    f.add("Run dir", info.run_dir());
    f.add("Started", TimeUtil::ToString(info.started_at()));
    f.add("Uptime", format_duration(std::chrono::milliseconds(
                        TimeUtil::DurationToMilliseconds(info.uptime()) / 1000 * 1000)));
    const auto& cap = info.capacity();
    auto size = [](std::int64_t b) { return format_size_human(static_cast<std::uint64_t>(b)); };
    f.add("Admits", fmt::format("{} vCPU of requests{} and {} of memory requests",
                                format_cpu_millis(cap.admittable_cpu_millis()),
                                cap.cpu_overcommit() > 1.0
                                    ? fmt::format(" (cpu_overcommit {:g})", cap.cpu_overcommit())
                                    : std::string(),
                                size(info.allocatable_memory_bytes())));
    f.add("Requested", fmt::format("{} vCPU, {} memory ({} admitted)",
                                   format_cpu_millis(cap.requested_cpu_millis()),
                                   size(cap.requested_memory_bytes()), cap.admitted()));
    f.add("Limits", fmt::format("{} vCPU of quotas ({} without a CPU limit), {} memory",
                                format_cpu_millis(cap.limited_cpu_millis()),
                                cap.without_cpu_limit(), size(cap.limited_memory_bytes())));
    f.add("Free", fmt::format("{} vCPU, {} memory", format_cpu_millis(cap.free_cpu_millis()),
                              size(cap.free_memory_bytes())));
    f.add("Defaults",
          fmt::format("without --cpu/--memory a task requests {} vCPU (no CPU limit) and {}, "
                      "limited to {}",
                      format_cpu_millis(cap.defaults().cpu_request_millis()),
                      size(cap.defaults().memory_request_bytes()),
                      size(cap.defaults().memory_limit_bytes())));
    f.add("Running tasks", std::to_string(info.running_tasks()));
    f.add("Running instances", std::to_string(info.running_instances()));
    f.add("Admission", info.draining().empty() ? std::string("open") : "closed: " + info.draining());
    f.add("Ingress", info.ingress_address().empty()
                         ? std::string("off ([ingress] listen = \"\")")
                         : fmt::format("http://{} (service NAME answers at NAME.{})",
                                       info.ingress_address(), info.ingress_domain()));
    f.print(std::cout);
    return kExitOk;
  });

  // Maintenance: what `dpkg -r` does before it stops svcd, and what an operator does before
  // rebooting the machine.
  auto timeout = std::make_shared<std::string>("60s");
  auto* drain_cmd = node->add_subcommand(
      "drain",
      "close admission (nothing starts), stop every task, drain every service instance, and "
      "wait until nothing runs; services and queued tasks are kept (resume admits again, as "
      "does a restart of svcd)");
  drain_cmd
      ->add_option("--timeout", *timeout,
                   "how long to wait for them to end (e.g. 30s; 0 = do not wait)")
      ->capture_default_str();
  set_runner(drain_cmd, [&ctx, timeout]() -> int {
    auto d = parse_duration(*timeout);
    if (!d) return ctx.report(d.error().context("--timeout"));
    v1::DrainNodeRequest req;
    *req.mutable_timeout() = google::protobuf::util::TimeUtil::MillisecondsToDuration(d->count());
    v1::DrainNodeResponse out;
    auto call = ctx.client().context(*d + std::chrono::seconds(30));  // svcd answers at *d
    auto status = ctx.client().node().Drain(call.get(), req, &out);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, out);
    } else {
      auto waited = google::protobuf::util::TimeUtil::DurationToMilliseconds(out.waited());
      std::cout << fmt::format("node drained: admission closed, {} task(s) stopped, {} "
                               "instance(s) drained",
                               out.tasks_stopped(), out.instances_drained());
      if (out.still_running() == 0)
        std::cout << fmt::format("; nothing runs (after {} ms)\n", waited);
      else
        std::cout << fmt::format("; {} still running after {} ms\n", out.still_running(), waited);
      std::cout << "svctl node resume admits again\n";
    }
    // Not everything ended in time: a script (the package's prerm) hears it.
    return out.still_running() == 0 ? kExitOk : kExitFailed;
  });
  auto* resume_cmd = node->add_subcommand(
      "resume", "admit again after a drain: queued tasks start, services go back to their minimum");
  set_runner(resume_cmd, [&ctx]() -> int {
    v1::NodeInfo info;
    auto call = ctx.client().context(std::chrono::seconds(10));
    auto status = ctx.client().node().Resume(call.get(), v1::ResumeNodeRequest(), &info);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json())
      print_json(std::cout, info);
    else
      std::cout << "node resumed: admission open\n";
    return kExitOk;
  });
}

}  // namespace svc::cli
