#include "daemon/daemon.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "api/server/dispatcher.hpp"
#include "api/server/listener.hpp"
#include "api/server/services/audit_service.hpp"
#include "api/server/services/image_service.hpp"
#include "api/server/services/node_service.hpp"
#include "api/server/services/schedule_service.hpp"
#include "api/server/services/service_service.hpp"
#include "api/server/services/task_service.hpp"
#include "api/server/services/token_service.hpp"
#include "api/server/services/usage_service.hpp"
#include "api/server/tls.hpp"
#include "common/digest.hpp"
#include "common/fs.hpp"
#include "common/units.hpp"
#include "common/version.hpp"
#include "daemon/adapters/api_images.hpp"
#include "daemon/adapters/api_node.hpp"
#include "daemon/adapters/api_services.hpp"
#include "daemon/adapters/api_tasks.hpp"
#include "daemon/adapters/cgroup_cpu_limiter.hpp"
#include "daemon/adapters/usage_probe.hpp"
#include "daemon/billing/instance_billing.hpp"
#include "daemon/billing/instance_recorder.hpp"
#include "daemon/billing/meter.hpp"
#include "daemon/billing/task_recorder.hpp"
#include "daemon/billing/usage_api.hpp"
#include "daemon/billing/usage_metrics.hpp"
#include "daemon/metrics/node_metrics.hpp"
#include "daemon/node_drain.hpp"
#include "daemon/schedule_system.hpp"
#include "daemon/service_metrics.hpp"
#include "daemon/service_system.hpp"
#include "daemon/store/audit_store.hpp"
#include "daemon/store/store.hpp"
#include "daemon/store/usage_store.hpp"
#include "daemon/task_system.hpp"
#include "daemon/tokens.hpp"
#include "images/image_service.hpp"
#include "isolation/host_probe.hpp"
#include "scheduler/capacity.hpp"
#include "scheduler/cpu_idle.hpp"
#include "scheduler/ingress/proxy.hpp"

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

billing::Policy billing_policy(const Config::Billing& b) {
  billing::Policy p;
  p.prices.currency = b.currency;
  p.prices.vcpu_second = b.price_vcpu_second_nanos;
  p.prices.gib_second = b.price_gib_second_nanos;
  p.prices.million_requests = b.price_million_requests_nanos;
  p.task_minimum = b.task_minimum;
  // Both were checked when the config was read.
  p.basis = billing::parse_basis(b.billed_resources).value_or(billing::Basis::kRequests);
  p.service_mode = billing::parse_mode(b.service_mode).value_or(billing::ServiceMode::kInstance);
  return p;
}

// What a service instance without --cpu/--memory requests and is limited to, until the [node]
// defaults of the request/limit model are configurable: small enough that a 2-core node holds
// a hundred idle instances, with a memory limit of its own.
constexpr scheduler::ResourceDefaults kInstanceDefaults{10, 16ULL << 20, 512ULL << 20, 1024};

// Every connection through the ingress holds two descriptors (client and instance): the soft
// limit of 1024 a service manager gives by default would cap the node at a few hundred
// requests at once. Raise it to the hard limit, as nginx's worker_rlimit_nofile does; the
// sandboxes set their own limits.
void raise_nofile_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max) return;
  rlim_t was = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &rl) == 0)
    spdlog::debug("svcd: open files limit raised from {} to {}", was, rl.rlim_max);
}

}  // namespace

Result<std::unique_ptr<Daemon>> Daemon::start(const Config& config) {
  std::unique_ptr<Daemon> d(new Daemon());
  raise_nofile_limit();
  d->config_ = config;
  d->started_at_ = d->clock_.now();
  d->metrics_ = std::make_unique<metrics::Registry>();
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

  // On v1 a sandbox's first process moves itself through "tasks", which skips the lock this
  // option is about (isolation/cgroups/cgroup_driver.hpp); on v2 it still waits, and so does
  // the shim's move out of svcd's own cgroup on a hybrid host's cgroup2 mount (under systemd).
  if ((host.cgroup.driver == "v2" || host.cgroup.own_v2_cgroup) &&
      host.cgroup.favordynmods_supported && !host.cgroup.favordynmods)
    spdlog::info(
        "cgroups: mounted without favordynmods, so a sandbox's move into its cgroup can wait "
        "for an RCU grace period (4-20 ms of each cold start); remounting the cgroup file "
        "system with it avoids that (docs/operating.md, \"Cold starts and cgroups\")");

  std::int64_t alloc_cpu =
      config.node.cpu_millis > 0 ? config.node.cpu_millis : std::int64_t{host.cpus} * 1000;
  std::uint64_t alloc_mem =
      config.node.memory_bytes > 0 ? config.node.memory_bytes : host.memory_bytes / 10 * 9;

  d->tokens_ = std::make_unique<TokenManager>(*d->store_, d->clock_);
  d->audit_ = std::make_unique<SqlAuditStore>(*d->store_, d->clock_, config.api.audit_retention);
  if (auto pruned = d->audit_->prune(); !pruned)
    spdlog::warn("audit: prune: {}", pruned.error().message());

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
  io.metrics = d->metrics_.get();
  d->images_ = SVC_TRY_CTX(images::ImageService::create(io, d->clock_), "images");
  // The node's one admission ledger, shared by tasks and service instances: requests are
  // admitted against the allocatable CPU times the overcommit ratio and the allocatable memory.
  std::int64_t admit_cpu =
      static_cast<std::int64_t>(static_cast<double>(alloc_cpu) * config.node.cpu_overcommit);
  d->capacity_ = std::make_unique<scheduler::Capacity>(scheduler::Amount{admit_cpu, alloc_mem});
  const billing::Policy policy = billing_policy(config.billing);
  d->usage_store_ = std::make_unique<SqlUsageStore>(*d->store_);
  d->usage_recorder_ = std::make_unique<billing::TaskUsageRecorder>(policy, d->clock_);
  TaskSystem::Options to;
  to.usage = d->usage_recorder_.get();
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
  to.other_cgroups = {ServiceSystem::kCgroupParent};
  d->tasks_ = SVC_TRY_CTX(TaskSystem::start(to, host, *d->store_, *d->images_, d->clock_), "tasks");
  Daemon* owner = d.get();
  int orphans = SVC_TRY_CTX(
      billing::TaskUsageRecorder::close_orphans(
          *d->usage_store_,
          [owner](const std::string& id) { return owner->tasks_->tasks().get(id).has_value(); }),
      "usage records");
  if (orphans)
    spdlog::warn("billing: closed {} usage record(s) of tasks that no longer exist", orphans);
  // Service instances: their open records carry on from their last checkpoint before the
  // services recover (which closes those that ended while svcd was down, from their exit
  // records). Request-mode ones get their full CPU back once their sandboxes are known again.
  d->instance_recorder_ = std::make_unique<billing::InstanceUsageRecorder>(policy, d->clock_);
  std::vector<std::pair<std::string, std::int64_t>> unthrottle;
  int carried = SVC_TRY_CTX(billing::InstanceBilling::adopt_open(
                                *d->usage_store_, *d->instance_recorder_,
                                [&](const billing::UsageRecord& r) {
                                  if (r.mode == billing::ServiceMode::kRequest)
                                    unthrottle.emplace_back(r.owner.instance, r.cpu_limit_millis);
                                }),
                            "usage records of instances");
  if (carried) spdlog::info("billing: {} open instance usage record(s) carry on", carried);
  // The throttle's thread starts once the services run: only it (and remove() of a throttled
  // instance, so also only after it started) calls the limiter, which reads services_.
  d->cpu_limiter_ = std::make_unique<CgroupCpuLimiter>(
      d->tasks_->cgroups(), [owner](const std::string& id) -> Result<std::string> {
        auto st = SVC_TRY(owner->services_->runtime().state(id));
        return st.cgroup;
      });
  d->cpu_throttle_ = std::make_unique<scheduler::CpuIdleThrottle>(*d->cpu_limiter_, d->clock_,
                                                                  scheduler::CpuIdleOptions{});
  d->instance_billing_ =
      std::make_unique<billing::InstanceBilling>(*d->instance_recorder_, d->cpu_throttle_.get());
  auto probe = std::make_unique<RuntimeUsageProbe>(d->tasks_->runtime());
  RuntimeUsageProbe* runtime_probe = probe.get();
  d->usage_probe_ = std::move(probe);
  billing::UsageMeter::Options mo;
  mo.interval = config.billing.checkpoint_interval;
  d->usage_meter_ =
      std::make_unique<billing::UsageMeter>(*d->usage_store_, *d->usage_probe_, d->clock_, mo);
  d->usage_meter_->set_activity(d->instance_recorder_.get());
  d->usage_meter_->start();
  d->usage_api_ = std::make_unique<billing::UsageApi>(*d->usage_store_, policy, d->clock_);
  d->usage_api_->set_activity(d->instance_recorder_.get());
  NodeMetricsSources nm;
  nm.started_at = d->started_at_;
  nm.allocatable_cpu_millis = alloc_cpu;
  nm.allocatable_memory_bytes = alloc_mem;
  nm.capacity = d->capacity_.get();
  nm.tasks = &d->tasks_->tasks();
  register_node_metrics(*d->metrics_, nm);
  billing::register_usage_metrics(*d->metrics_, *d->usage_store_, policy.prices.currency);

  d->schedules_ = SVC_TRY_CTX(
      ScheduleSystem::start(config.schedules, *d->store_, d->tasks_->tasks(), d->clock_),
      "schedules");

  ServiceSystem::Options so;
  so.state_dir = state;
  so.shim_cgroup = cgroups.shims;
  so.resources = kInstanceDefaults;
  so.dns = config.network.dns;
  so.usage = d->instance_billing_.get();
  // The ingress proxy is the services' data plane; the ServiceSystem owns it (it stops after
  // the controller), the daemon keeps a pointer for its port and metrics.
  ServiceSystem::DataPlaneFactory make_ingress;
  ingress::Proxy* proxy = nullptr;
  if (!config.ingress.listen.empty()) {
    make_ingress =
        [&](ingress::ControlPlane& control) -> Result<std::unique_ptr<ingress::DataPlane>> {
      ingress::ProxyOptions po;
      po.listen = config.ingress.listen;
      po.domain = config.ingress.domain;
      po.metrics_path = config.ingress.metrics_path;
      po.metrics = [self = d.get()] { return self->scrape(); };
      // The proxy's edges reach the controller through billing (and the CPU throttle).
      d->billed_control_ = std::make_unique<billing::BilledControlPlane>(
          control, *d->instance_recorder_, d->cpu_throttle_.get(), d->clock_);
      auto p = SVC_TRY(ingress::Proxy::start(po, *d->billed_control_, d->clock_));
      proxy = p.get();
      return std::unique_ptr<ingress::DataPlane>(std::move(p));
    };
  }
  d->services_ = SVC_TRY_CTX(ServiceSystem::start(so, *d->tasks_, *d->store_, *d->images_,
                                                  *d->capacity_, d->clock_, make_ingress),
                             "services");
  d->proxy_ = proxy;
  runtime_probe->set_instances(&d->services_->runtime());
  for (const auto& [id, cpu] : unthrottle)
    if (auto r = d->cpu_limiter_->set_cpu_limit(id, cpu); !r)
      spdlog::debug("billing: restore the CPU of instance {}: {}", id, r.error().message());
  d->cpu_throttle_->start();
  auto& controller = d->services_->controller();
  int lost = SVC_TRY_CTX(
      billing::InstanceBilling::close_orphans(
          *d->usage_store_, [&](const std::string& id) { return controller.has_instance(id); }),
      "usage records of instances");
  if (lost)
    spdlog::warn("billing: closed {} usage record(s) of instances that no longer exist", lost);
  std::string url_pattern;
  if (proxy) {
    url_pattern = service_url_pattern(config.ingress.domain, proxy->port());
    spdlog::info("svcd: ingress listening on {} (service NAME answers at NAME.{})",
                 proxy->listen_address(), config.ingress.domain);
  } else {
    spdlog::info("svcd: ingress off ([ingress] listen = \"\"): services cannot be deployed");
  }

  d->dispatcher_ = std::make_unique<api::Dispatcher>();
  d->dispatcher_->set_metrics(*d->metrics_);
  Daemon* self = d.get();
  d->node_drain_ = std::make_unique<NodeDrain>(*d->capacity_, d->tasks_->tasks(),
                                               d->services_->controller(), d->clock_);
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
    s.running_instances = self->services_->controller().counts().total;
    s.ingress_domain = self->config_.ingress.domain;
    if (self->proxy_) s.ingress_address = self->proxy_->listen_address();
    s.draining = self->capacity_->cordoned().value_or("");
    return s;
  }, *d->node_drain_);
  api::register_token_service(*d->dispatcher_, *d->tokens_);
  api::register_audit_service(*d->dispatcher_, *d->audit_, d->clock_);
  UploadStore::Options uploads;
  uploads.dir = state / "uploads";
  d->api_images_ = std::make_unique<ApiImageBackend>(
      *d->images_, SVC_TRY_CTX(UploadStore::open(std::move(uploads)), "uploads"));
  api::register_image_service(*d->dispatcher_, *d->api_images_);
  d->api_tasks_ = std::make_unique<ApiTaskBackend>(d->tasks_->tasks(), d->tasks_->logs());
  api::register_task_service(*d->dispatcher_, *d->api_tasks_);
  api::register_usage_service(*d->dispatcher_, *d->usage_api_);
  d->api_services_ = std::make_unique<ApiServiceBackend>(d->services_->controller(),
                                                         d->services_->logs(), url_pattern);
  api::register_service_service(*d->dispatcher_, *d->api_services_);
  api::register_schedule_service(*d->dispatcher_, d->schedules_->controller());

  d->api_ = std::make_unique<api::ApiServer>(
      *d->dispatcher_,
      [self](std::string_view token) { return self->tokens_->authenticate(token); },
      [self] { return self->scrape(); });
  api::ApiServer::Options opts;
  opts.unix_socket = config.socket_path();
  if (!config.api.tcp.empty()) opts.tcp = SVC_TRY(parse_host_port(config.api.tcp, "api.tcp"));
  if (!config.api.tls_cert.empty()) {
    api::TlsOptions tls;
    tls.cert = config.api.tls_cert;
    tls.key = config.api.tls_key;
    tls.client_ca = config.api.client_ca;
    tls.require_client_cert = config.api.require_client_cert;
    d->tls_ = SVC_TRY_CTX(api::TlsContext::load(tls), "TLS for the API");
    opts.tls = d->tls_.get();
  }
  SVC_TRY_CTX(d->api_->start(opts), "start the API");
  std::string tcp_about;
  if (d->api_->tcp_port())
    tcp_about = fmt::format(
        " and tcp port {} ({})", *d->api_->tcp_port(),
        d->tls_ ? fmt::format("TLS, certificate {}; {}", d->tls_->describe(),
                              config.api.require_client_cert ? "client certificate required"
                              : config.api.client_ca.empty() ? "token required"
                                                             : "client certificate or token")
                : std::string("token required"));
  spdlog::info("svcd {} ({}) serving the API on unix://{}{}", svc::version(), svc::git_commit(),
               opts.unix_socket.string(), tcp_about);
  {
    std::lock_guard lock(d->scrape_mu_);
    d->scrape_open_ = true;
  }
  return d;
}

std::string Daemon::scrape() {
  // The ingress serves /metrics too, from its io threads, which run before start() returns and
  // until stop() has reset what the collectors read: a scrape outside those bounds gets nothing.
  std::lock_guard lock(scrape_mu_);
  if (!scrape_open_) return {};
  auto& sc = services_->controller();
  return metrics_->render() + service_metrics_text(sc.list(), sc.counts()) +
         (proxy_ ? proxy_->metrics_text() : std::string());
}

Result<> Daemon::reload() {
  if (!tls_) {
    spdlog::info(
        "svcd: SIGHUP: nothing to reload (no [api] tls_cert); restart svcd to apply a "
        "new config");
    return {};
  }
  SVC_TRY_CTX(tls_->reload(), "reload the API's TLS files (the ones in use stay)");
  spdlog::info("svcd: SIGHUP: TLS certificate reloaded: {}; other config changes need a restart",
               tls_->describe());
  return {};
}

Result<> Daemon::check_health() {
  if (!store_) return fail(Code::kUnavailable, "the store is closed");
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return store_->put_meta("watchdog_at", std::to_string(now));
}

void Daemon::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(scrape_mu_);
    scrape_open_ = false;
  }
  if (node_drain_) node_drain_->shutdown();  // a drain waiting answers now
  if (api_) api_->stop(grace);
  api_.reset();
  tls_.reset();
  dispatcher_.reset();
  audit_.reset();
  // The meter reads sandboxes through the task system: it stops first.
  if (usage_meter_) usage_meter_->stop();
  usage_meter_.reset();
  usage_probe_.reset();
  usage_api_.reset();
  api_services_.reset();
  api_tasks_.reset();
  api_images_.reset();
  node_drain_.reset();
  // The ingress stops accepting and lets requests in progress finish (their instances keep
  // running, as tasks do: the next svcd re-adopts and routes to them).
  if (proxy_) proxy_->stop(grace);
  // No more CPU limit changes (they stay as they are: the next svcd restores what it adopts).
  if (cpu_throttle_) cpu_throttle_->stop();
  if (services_) services_->shutdown();
  proxy_ = nullptr;
  services_.reset();
  billed_control_.reset();
  instance_billing_.reset();
  cpu_throttle_.reset();
  cpu_limiter_.reset();
  instance_recorder_.reset();
  // No run starts once the tasks are shutting down.
  if (schedules_) schedules_->shutdown();
  schedules_.reset();
  // Tasks keep running in their sandboxes; the next svcd re-adopts them.
  if (tasks_) tasks_->shutdown();
  tasks_.reset();
  usage_recorder_.reset();
  usage_store_.reset();
  // After every controller that reserves in it.
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
