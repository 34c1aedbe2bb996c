#include "daemon/daemon.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "api/server/dispatcher.hpp"
#include "api/server/listener.hpp"
#include "api/server/services/image_service.hpp"
#include "api/server/services/node_service.hpp"
#include "api/server/services/task_service.hpp"
#include "api/server/services/token_service.hpp"
#include "common/digest.hpp"
#include "common/fs.hpp"
#include "common/units.hpp"
#include "common/version.hpp"
#include "daemon/adapters/api_images.hpp"
#include "daemon/adapters/api_node.hpp"
#include "daemon/adapters/api_tasks.hpp"
#include "daemon/store/store.hpp"
#include "daemon/task_system.hpp"
#include "daemon/tokens.hpp"
#include "images/image_service.hpp"
#include "isolation/host_probe.hpp"
#include "scheduler/capacity.hpp"

namespace svc::daemon {

namespace fs = std::filesystem;

Result<UniqueFd> lock_state_dir(const fs::path& state_dir) {
  fs::path path = state_dir / "svcd.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return fail_errno(fmt::format("open lock file {}", path.string()));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return fail_errno(fmt::format("lock {}", path.string()));
    char buf[32] = {0};
    ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    return fail(Code::kAlreadyExists,
                "another svcd (pid {}) is using state dir {}: stop it first, or start this one "
                "with another --state-dir",
                pid, state_dir.string());
  }
  std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0)
    return fail_errno(fmt::format("write lock file {}", path.string()));
  return fd;
}

namespace {

std::string metrics_text(std::chrono::system_clock::time_point started_at) {
  auto up = std::chrono::duration<double>(std::chrono::system_clock::now() - started_at).count();
  auto start = std::chrono::duration<double>(started_at.time_since_epoch()).count();
  return fmt::format(
      "# HELP svcd_build_info The running svcd's version and commit.\n"
      "# TYPE svcd_build_info gauge\n"
      "svcd_build_info{{version=\"{}\",commit=\"{}\"}} 1\n"
      "# HELP svcd_start_time_seconds When svcd started, in unix seconds.\n"
      "# TYPE svcd_start_time_seconds gauge\n"
      "svcd_start_time_seconds {:.3f}\n"
      "# HELP svcd_uptime_seconds Seconds since svcd started.\n"
      "# TYPE svcd_uptime_seconds gauge\n"
      "svcd_uptime_seconds {:.3f}\n",
      svc::version(), svc::git_commit(), start, up);
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(const Config& config) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->config_ = config;
  d->started_at_ = d->clock_.now();
  fs::path state(config.daemon.state_dir);
  fs::path run(config.daemon.run_dir);
  // 0700: svcd.db holds every task's environment, tasks/ their logs and files. No sandbox
  // needs to pass through: each one's process opens its own sandbox dir (0711) while it still
  // has the host root's uid. A state dir an older svcd made 0711 is tightened.
  SVC_TRY_CTX(make_dirs(state, 0700), "state dir");
  if (::chmod(state.c_str(), 0700) != 0)
    return fail_errno(fmt::format("make state dir {} private (chmod 0700)", state.string()));
  SVC_TRY_CTX(make_dirs(run, 0755), "run dir");
  d->lock_fd_ = SVC_TRY(lock_state_dir(state));

  d->store_ = SVC_TRY(Store::open(state / "svcd.db"));
  auto node_id = SVC_TRY(d->store_->get_meta("node_id"));
  if (!node_id) {
    node_id = random_hex(8);
    SVC_TRY(d->store_->put_meta("node_id", *node_id));
  }
  d->node_id_ = *node_id;

  // Probes fork: done before any thread of ours starts.
  fs::path scratch = state / "tmp";
  SVC_TRY(make_dirs(scratch, 0700));
  isolation::HostFacts host = isolation::probe_host(scratch);
  spdlog::info(
      "node {}: {} cpus, {} memory, cgroups {} (driver {}), user namespaces {}, "
      "overlayfs {}, seccomp {}, idmapped mounts {}, kvm {}",
      d->node_id_, host.cpus, format_size_human(host.memory_bytes),
      host.cgroup.mode == isolation::CgroupMode::kHybrid ? "hybrid"
      : host.cgroup.mode == isolation::CgroupMode::kV2   ? "v2"
      : host.cgroup.mode == isolation::CgroupMode::kV1   ? "v1"
                                                         : "unknown",
      host.cgroup.driver.empty() ? "none" : host.cgroup.driver,
      host.user_namespaces.usable ? "yes" : "no", host.overlayfs.usable ? "yes" : "no",
      host.seccomp.usable ? "yes" : "no", host.idmapped_mounts.usable ? "yes" : "no",
      host.kvm.flavour.empty() ? "none" : host.kvm.flavour);

  std::int64_t alloc_cpu =
      config.node.cpu_millis > 0 ? config.node.cpu_millis : std::int64_t{host.cpus} * 1000;
  std::uint64_t alloc_mem =
      config.node.memory_bytes > 0 ? config.node.memory_bytes : host.memory_bytes / 10 * 9;

  d->tokens_ = std::make_unique<TokenManager>(*d->store_, d->clock_);

  images::ImageServiceOptions io;
  io.root = state;
  io.registries.default_registry = config.registries.default_registry;
  io.registries.insecure = config.registries.insecure;
  io.registries.mirrors = config.registries.mirrors;
  io.registries.auth_file = config.registries.auth_file;
  io.registries.stall_timeout = config.registries.stall_timeout;
  io.registries.max_attempts = config.registries.max_attempts;
  io.registries.user_agent = fmt::format("svcd/{}", svc::version());
  io.parallel_layers = config.images.parallel_layers;
  io.limits.max_entries = config.images.max_layer_entries;
  io.limits.max_layer_bytes = config.images.max_layer_size;
  io.limits.max_file_bytes = config.images.max_file_size;
  d->images_ = SVC_TRY_CTX(images::ImageService::create(io, d->clock_), "images");
  // Admission counts requests against the allocatable CPU times the overcommit ratio.
  std::int64_t admit_cpu =
      static_cast<std::int64_t>(static_cast<double>(alloc_cpu) * config.node.cpu_overcommit);
  d->capacity_ = std::make_unique<scheduler::Capacity>(scheduler::Amount{admit_cpu, alloc_mem});
  TaskSystem::Options to;
  to.state_dir = state;
  to.capacity = d->capacity_.get();
  to.defaults = scheduler::ResourceDefaults{
      config.node.default_cpu_request_millis, config.node.default_memory_request_bytes,
      config.node.default_memory_limit_bytes, config.node.default_pids};
  CgroupNames cgroups = cgroup_names(config);
  to.cgroup_base = cgroups.base;
  to.shim_cgroup = cgroups.shims;
  to.uid_base = config.isolation.uid_base;
  to.bridge_reach_host = config.network.bridge_reach_host;
  to.bridge_reach_each_other = config.network.bridge_reach_each_other;
  to.dns = config.network.dns;
  d->tasks_ = SVC_TRY_CTX(TaskSystem::start(to, host, *d->store_, *d->images_, d->clock_), "tasks");

  d->dispatcher_ = std::make_unique<api::Dispatcher>();
  Daemon* self = d.get();
  api::register_node_service(*d->dispatcher_, to_node_host(host), [self, alloc_cpu, alloc_mem] {
    api::NodeStatus s;
    auto totals = self->capacity_->totals();
    s.admittable_cpu_millis = totals.total.cpu_millis;
    s.cpu_overcommit = self->config_.node.cpu_overcommit;
    s.requested_cpu_millis = totals.reserved.cpu_millis;
    s.requested_memory_bytes = totals.reserved.memory_bytes;
    s.limited_cpu_millis = totals.limits.cpu_millis;
    s.limited_memory_bytes = totals.limits.memory_bytes;
    s.without_cpu_limit = static_cast<int>(totals.without_cpu_limit);
    s.admitted = static_cast<int>(totals.holders);
    auto free = self->capacity_->free();
    s.free_cpu_millis = free.cpu_millis;
    s.free_memory_bytes = free.memory_bytes;
    const auto& n = self->config_.node;
    s.default_cpu_request_millis = n.default_cpu_request_millis;
    s.default_memory_request_bytes = n.default_memory_request_bytes;
    s.default_memory_limit_bytes = n.default_memory_limit_bytes;
    s.node_id = self->node_id_;
    s.state_dir = self->config_.daemon.state_dir;
    s.run_dir = self->config_.daemon.run_dir;
    s.allocatable_cpu_millis = alloc_cpu;
    s.allocatable_memory_bytes = alloc_mem;
    s.started_at = self->started_at_;
    s.running_tasks = self->tasks_->tasks().running_count();
    return s;
  });
  api::register_token_service(*d->dispatcher_, *d->tokens_);
  d->api_images_ = std::make_unique<ApiImageBackend>(*d->images_);
  api::register_image_service(*d->dispatcher_, *d->api_images_);
  d->api_tasks_ = std::make_unique<ApiTaskBackend>(d->tasks_->tasks(), d->tasks_->logs());
  api::register_task_service(*d->dispatcher_, *d->api_tasks_);

  d->api_ = std::make_unique<api::ApiServer>(
      *d->dispatcher_,
      [self](std::string_view token) { return self->tokens_->authenticate(token); },
      [self] { return metrics_text(self->started_at_); });
  api::ApiServer::Options opts;
  opts.unix_socket = config.socket_path();
  if (!config.api.tcp.empty()) opts.tcp = SVC_TRY(parse_host_port(config.api.tcp, "api.tcp"));
  SVC_TRY_CTX(d->api_->start(opts), "start the API");
  spdlog::info("svcd {} ({}) serving the API on unix://{}{}", svc::version(), svc::git_commit(),
               opts.unix_socket.string(),
               d->api_->tcp_port()
                   ? fmt::format(" and tcp port {} (token required)", *d->api_->tcp_port())
                   : "");
  return d;
}

void Daemon::stop(std::chrono::milliseconds grace) {
  if (api_) api_->stop(grace);
  api_.reset();
  dispatcher_.reset();
  api_tasks_.reset();
  api_images_.reset();
  // Tasks keep running in their sandboxes; the next svcd re-adopts them.
  if (tasks_) tasks_->shutdown();
  tasks_.reset();
  capacity_.reset();
  images_.reset();
  tokens_.reset();
  store_.reset();
  if (lock_fd_) {
    // Leave the lock file: deleting it would race with a new svcd taking it.
    lock_fd_.reset();
  }
}

Daemon::~Daemon() { stop(std::chrono::milliseconds(0)); }

}  // namespace svc::daemon
