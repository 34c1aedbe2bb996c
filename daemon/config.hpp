#pragma once
// svcd's configuration: embedded defaults, overridden by /etc/svcd/svcd.toml (or --config), then
// by command-line flags. Every key is documented in DESIGN.md "Configuration".
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace svc::daemon {

inline constexpr const char* kDefaultConfigPath = "/etc/svcd/svcd.toml";

struct Config {
  struct Daemon {
    std::string state_dir = "/var/lib/svcd";
    std::string run_dir = "/run/svcd";
    std::string log_level = "info";
  } daemon;

  struct Api {
    std::string tcp;  // "" = off; "127.0.0.1:7070"
    // The audit log of mutating calls keeps this long (svctl audit).
    std::chrono::milliseconds audit_retention{90LL * 24 * 3600 * 1000};
    // TLS on the TCP listener (PEM files, re-read on SIGHUP); required for a non-loopback tcp.
    std::string tls_cert;
    std::string tls_key;
    std::string client_ca;             // "" = no client certificates asked for
    bool require_client_cert = false;  // refuse TLS clients without one
  } api;

  struct Ingress {
    std::string listen = "127.0.0.1:8080";
    std::string domain = "localhost";
    std::string metrics_path = "/metrics";  // on a Host that names no service; "": off
  } ingress;

  struct Registries {
    std::string default_registry = "docker.io";
    std::vector<std::string> insecure;
    std::string auth_file;
    std::map<std::string, std::vector<std::string>> mirrors;
    // A registry that sends nothing for this long is cut off (and retried); then the pull fails.
    std::chrono::milliseconds stall_timeout{30'000};
    int max_attempts = 4;  // per request, on resets, 5xx and 429 (with back-off)
  } registries;

  // How pulls use the node, and the limits that stop hostile layers.
  struct Images {
    int parallel_layers = 3;                      // layers fetched and unpacked at once
    std::uint64_t max_layer_entries = 1'000'000;  // tar entries in one layer
    std::uint64_t max_layer_size = 64ULL << 30;   // uncompressed bytes of one layer
    std::uint64_t max_file_size = 16ULL << 30;    // one file in a layer
  } images;

  struct Isolation {
    // sandboxes: <hierarchy>/<cgroup_base>/sandboxes/<id>; shims: <hierarchy>/<shim_cgroup>
    // (not svcd's own). Empty: follow the state dir (cgroup_names()).
    std::string cgroup_base;
    std::string shim_cgroup;
    std::uint64_t uid_base = 1'000'000'000;  // first host uid of the per-sandbox ranges
  } isolation;

  // Bridge networking (`--network bridge`): who a bridge task may reach, and its resolvers.
  struct Network {
    std::vector<std::string> dns;  // nameservers for bridge tasks; empty: the host's (not loopback)
    bool bridge_reach_host = false;        // the host's own services
    bool bridge_reach_each_other = false;  // other bridge tasks
  } network;

  struct Node {
    std::int64_t cpu_millis = 0;     // 0 = all online CPUs
    std::uint64_t memory_bytes = 0;  // 0 = 90 % of RAM
    // CPU requests admitted per allocatable vCPU (1 = none beyond the node; 4 = four times).
    double cpu_overcommit = 1.0;
    // What a task or instance without --cpu / --memory requests and is limited to: a weight
    // under contention and no CPU quota, a small memory reservation and a memory limit.
    std::int64_t default_cpu_request_millis = 1;
    std::uint64_t default_memory_request_bytes = 16ULL << 20;
    std::uint64_t default_memory_limit_bytes = 512ULL << 20;
    std::int64_t default_pids = 1024;
  } node;

  // Prices are kept in nano-units of the currency (daemon/billing/money.hpp): 0.0000113 is
  // 11'300. In the file they are decimals, as numbers or (exactly) as strings.
  struct Billing {
    std::string currency = "USD";
    std::int64_t price_vcpu_second_nanos = 11'300;            // 0.0000113 (Fargate)
    std::int64_t price_gib_second_nanos = 1'200;              // 0.0000012 (Fargate)
    std::int64_t price_million_requests_nanos = 400'000'000;  // 0.40 (Cloud Run)
    std::chrono::milliseconds task_minimum{60'000};           // 0 allowed
    std::string billed_resources = "requests";                // or "limits"
    std::string service_mode = "instance";                    // or "request"
    std::chrono::milliseconds checkpoint_interval{15'000};    // measured detail of open runs
  } billing;

  // Cron schedules (scheduler/schedules/, DESIGN.md "Schedules").
  struct Schedules {
    // A 6th, leading seconds field in cron expressions ("*/5 * * * * *"). Off: crontab(5) has
    // none, and a per-second schedule is a load a node should be configured for on purpose.
    bool allow_seconds = false;
    // For schedules created without --starting-deadline: a run that cannot start this long
    // after its due time is recorded as missed.
    std::chrono::milliseconds starting_deadline{300'000};
    int history = 10;  // runs kept per schedule for `schedule describe`
  } schedules;

  std::filesystem::path socket_path() const {
    return std::filesystem::path(daemon.run_dir) / "svcd.sock";
  }
};

// Parses TOML text over the embedded defaults. source_name appears in errors ("svcd.toml:3:1:").
// Unknown keys and values of the wrong type or form are errors naming the key and line.
Result<Config> parse_config(std::string_view toml_text, std::string_view source_name);

// Loads path when it exists; a missing file at the default path means "defaults only", a missing
// file that was asked for explicitly is an error.
Result<Config> load_config(const std::optional<std::filesystem::path>& explicit_path);

// The effective configuration as TOML that parse_config accepts back.
std::string to_toml(const Config& config);

// Checks cross-key constraints (absolute dirs, valid addresses, TLS for a non-loopback API).
Result<> validate(const Config& config);
// The [api] part: tls_cert and tls_key together, client certificates only with TLS, and a
// tcp address other machines can reach only with TLS.
Result<> validate_api_tls(const Config::Api& api);

// The cgroup names svcd uses: [isolation] cgroup_base and shim_cgroup when set; else, so that
// two svcd with different state dirs never share a cgroup tree, "svc" and "svc-shims" for the
// default state dir (/var/lib/svcd) and "svc-<8 hex of the state dir's SHA-256>" and
// "<that>-shims" for any other.
struct CgroupNames {
  std::string base;
  std::string shims;
};
CgroupNames cgroup_names(const Config& config);

}  // namespace svc::daemon
