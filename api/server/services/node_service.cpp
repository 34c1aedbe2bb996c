#include "api/server/services/node_service.hpp"

#include <google/protobuf/util/time_util.h>

#include "common/version.hpp"
#include "svc/v1/node.pb.h"

namespace svc::api {

namespace {

void set_feature(v1::Feature* out, const NodeHost::Feature& in) {
  out->set_usable(in.usable);
  out->set_detail(in.detail);
}

v1::CgroupInfo::Mode to_proto(NodeHost::CgroupMode mode) {
  switch (mode) {
    case NodeHost::CgroupMode::kV1:
      return v1::CgroupInfo::V1;
    case NodeHost::CgroupMode::kV2:
      return v1::CgroupInfo::V2;
    case NodeHost::CgroupMode::kHybrid:
      return v1::CgroupInfo::HYBRID;
    default:
      return v1::CgroupInfo::MODE_UNSPECIFIED;
  }
}

}  // namespace

void register_node_service(Dispatcher& dispatcher, NodeHost host,
                           std::function<NodeStatus()> status, NodeControl& control) {
  using google::protobuf::util::TimeUtil;
  auto info = [host = std::move(host), status = std::move(status)](v1::NodeInfo& out) {
        NodeStatus s = status();
        out.set_version(std::string(svc::version()));
        out.set_git_commit(std::string(svc::git_commit()));
        out.set_node_id(s.node_id);
        out.set_hostname(host.hostname);
        out.set_os(host.os);
        out.set_kernel(host.kernel);
        out.set_architecture(host.architecture);
        auto* cg = out.mutable_cgroup();
        cg->set_mode(to_proto(host.cgroup_mode));
        cg->set_root(host.cgroup_root);
        cg->set_driver(host.cgroup_driver);
        for (const auto& c : host.controllers) {
          auto* pc = cg->add_controllers();
          pc->set_name(c.name);
          pc->set_version(c.version);
          pc->set_usable(c.usable);
        }
        set_feature(out.mutable_user_namespaces(), host.user_namespaces);
        set_feature(out.mutable_overlayfs(), host.overlayfs);
        set_feature(out.mutable_seccomp(), host.seccomp);
        set_feature(out.mutable_idmapped_mounts(), host.idmapped_mounts);
        auto* kvm = out.mutable_kvm();
        kvm->set_device_present(host.kvm_device_present);
        kvm->set_flavour(host.kvm_flavour);
        kvm->set_usable_for_vms(host.kvm_usable_for_vms);
        kvm->set_detail(host.kvm_detail);
        out.set_cpus(host.cpus);
        out.set_memory_bytes(static_cast<std::int64_t>(host.memory_bytes));
        out.set_allocatable_cpu_millis(s.allocatable_cpu_millis);
        out.set_allocatable_memory_bytes(static_cast<std::int64_t>(s.allocatable_memory_bytes));
        out.set_state_dir(s.state_dir);
        out.set_run_dir(s.run_dir);
        auto started_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(s.started_at.time_since_epoch())
                .count();
        *out.mutable_started_at() = TimeUtil::MillisecondsToTimestamp(started_ms);
        auto up_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now() - s.started_at)
                         .count();
        *out.mutable_uptime() = TimeUtil::MillisecondsToDuration(up_ms);
        out.set_running_tasks(s.running_tasks);
        out.set_running_instances(s.running_instances);
        out.set_ingress_address(s.ingress_address);
        out.set_ingress_domain(s.ingress_domain);
        auto* cap = out.mutable_capacity();
        cap->set_admittable_cpu_millis(s.admittable_cpu_millis);
        cap->set_cpu_overcommit(s.cpu_overcommit);
        cap->set_requested_cpu_millis(s.requested_cpu_millis);
        cap->set_requested_memory_bytes(static_cast<std::int64_t>(s.requested_memory_bytes));
        cap->set_limited_cpu_millis(s.limited_cpu_millis);
        cap->set_limited_memory_bytes(static_cast<std::int64_t>(s.limited_memory_bytes));
        cap->set_without_cpu_limit(s.without_cpu_limit);
        cap->set_admitted(s.admitted);
        cap->set_free_cpu_millis(s.free_cpu_millis);
        cap->set_free_memory_bytes(static_cast<std::int64_t>(s.free_memory_bytes));
        auto* def = cap->mutable_defaults();
        def->set_cpu_request_millis(s.default_cpu_request_millis);
        def->set_memory_request_bytes(static_cast<std::int64_t>(s.default_memory_request_bytes));
        def->set_memory_limit_bytes(static_cast<std::int64_t>(s.default_memory_limit_bytes));
        out.set_draining(s.draining);
  };
  dispatcher.unary<v1::NodeInfoRequest, v1::NodeInfo>(
      "svc.v1.Node/Info",
      [info](const v1::NodeInfoRequest&, v1::NodeInfo& out, CallContext&) -> Result<> {
        info(out);
        return {};
      });
  dispatcher.unary<v1::DrainNodeRequest, v1::DrainNodeResponse>(
      "svc.v1.Node/Drain",
      [&control](const v1::DrainNodeRequest& req, v1::DrainNodeResponse& out,
                 CallContext&) -> Result<> {
        std::chrono::milliseconds timeout{60'000};
        if (req.has_timeout()) {
          auto ms = TimeUtil::DurationToMilliseconds(req.timeout());
          if (ms < 0 || ms > 3'600'000)
            return fail(Code::kInvalidArgument,
                        "drain timeout {} ms is out of range: 0 (do not wait) to 1 h", ms);
          timeout = std::chrono::milliseconds(ms);
        }
        auto d = SVC_TRY(control.drain(timeout));
        out.set_tasks_stopped(d.tasks_stopped);
        out.set_instances_drained(d.instances_drained);
        out.set_still_running(d.still_running);
        *out.mutable_waited() = TimeUtil::MillisecondsToDuration(d.waited.count());
        return {};
      });
  dispatcher.unary<v1::ResumeNodeRequest, v1::NodeInfo>(
      "svc.v1.Node/Resume",
      [&control, info](const v1::ResumeNodeRequest&, v1::NodeInfo& out, CallContext&) -> Result<> {
        control.resume();
        info(out);
        return {};
      });
}

}  // namespace svc::api
