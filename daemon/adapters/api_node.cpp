#include "daemon/adapters/api_node.hpp"

namespace svc::daemon {

namespace {

api::NodeHost::Feature convert(const isolation::FeatureProbe& f) { return {f.usable, f.detail}; }

api::NodeHost::CgroupMode convert(isolation::CgroupMode m) {
  switch (m) {
    case isolation::CgroupMode::kV1:
      return api::NodeHost::CgroupMode::kV1;
    case isolation::CgroupMode::kV2:
      return api::NodeHost::CgroupMode::kV2;
    case isolation::CgroupMode::kHybrid:
      return api::NodeHost::CgroupMode::kHybrid;
    case isolation::CgroupMode::kUnknown:
      break;
  }
  return api::NodeHost::CgroupMode::kUnknown;
}

}  // namespace

api::NodeHost to_node_host(const isolation::HostFacts& host) {
  api::NodeHost n;
  n.hostname = host.hostname;
  n.os = host.os;
  n.kernel = host.kernel;
  n.architecture = host.architecture;
  n.cpus = host.cpus;
  n.memory_bytes = host.memory_bytes;
  n.cgroup_mode = convert(host.cgroup.mode);
  n.cgroup_root = host.cgroup.root.string();
  n.cgroup_driver = host.cgroup.driver;
  for (const auto& c : host.cgroup.controllers)
    n.controllers.push_back({c.name, c.version, c.usable});
  n.user_namespaces = convert(host.user_namespaces);
  n.overlayfs = convert(host.overlayfs);
  n.seccomp = convert(host.seccomp);
  n.idmapped_mounts = convert(host.idmapped_mounts);
  n.kvm_device_present = host.kvm.device_present;
  n.kvm_flavour = host.kvm.flavour;
  n.kvm_usable_for_vms = host.kvm.usable_for_vms;
  n.kvm_detail = host.kvm.detail;
  return n;
}

}  // namespace svc::daemon
