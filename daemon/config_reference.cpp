#include "daemon/config_reference.hpp"

#include <map>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "daemon/config.hpp"

namespace svc::daemon {

namespace {

// The help text of every key. Defaults are not written here: they come from Config{}.
const std::vector<ConfigKeyDoc> kDocs = {
    {"daemon", "", "Where svcd keeps its state and how much it logs."},
    {"daemon", "state_dir",
     "State directory: the database (svcd.db), image content, snapshots and every task's "
     "files. Back it up while svcd is stopped. --state-dir overrides it."},
    {"daemon", "run_dir",
     "Runtime directory. The API socket is <run_dir>/svcd.sock (root and group svc). "
     "--run-dir overrides it."},
    {"daemon", "log_level",
     "trace, debug, info, warn or error. svcd logs to stderr (the journal under systemd). "
     "--log-level overrides it."},

    {"api", "", "The API. The unix socket is always on; a TCP listener only when tcp is set."},
    {"api", "tcp",
     "Also serve the API on this TCP address (host:port). Every call there needs a bearer "
     "token (svctl token create). Off when empty.",
     "\"127.0.0.1:7070\""},
    {"api", "audit_retention",
     "How long the audit log keeps each mutating call (who, what, when, result; svctl audit). "
     "Older records are pruned.",
     "\"30d\""},
    {"api", "tls_cert",
     "TLS on the tcp listener: this PEM certificate (then its chain). svcd ends TLS itself, "
     "for gRPC and REST alike, TLS 1.2 or newer. Required when tcp is not a loopback address. "
     "svcd reads it again on SIGHUP (certificate rotation without a restart).",
     "\"/etc/svcd/tls/server.pem\""},
    {"api", "tls_key", "The PEM private key of tls_cert. Keep it 0600, owned by root.",
     "\"/etc/svcd/tls/server.key\""},
    {"api", "client_ca",
     "Accept client certificates signed by this PEM CA: a client that presents one is the "
     "caller \"cert:<subject>\" and needs no token. None asked for when empty.",
     "\"/etc/svcd/tls/clients-ca.pem\""},
    {"api", "require_client_cert",
     "Refuse TLS clients without a valid client certificate (needs client_ca). Tokens alone "
     "are then not enough."},

    {"ingress", "", "The HTTP proxy in front of services."},
    {"ingress", "listen", "Address the proxy listens on (host:port)."},
    {"ingress", "domain",
     "Service NAME answers at NAME.<domain> (the Host header picks the service)."},
    {"ingress", "metrics_path",
     "svcd's /metrics on the ingress port too, for a Host that names no service (Prometheus "
     "scrapes http://127.0.0.1:8080/metrics); a service's own path is never shadowed. \"\": "
     "off."},

    {"registries", "", "Where images come from."},
    {"registries", "default", "Registry for references without a host (\"alpine:3\")."},
    {"registries", "insecure",
     "Registries spoken to over plain HTTP (host:port). Only for registries on this machine "
     "or a network you trust.",
     "[\"127.0.0.1:5000\"]"},
    {"registries", "auth_file",
     "A docker-style config.json whose \"auths\" hold registry credentials. None when empty.",
     "\"/etc/svcd/auth.json\""},
    {"registries", "stall_timeout",
     "A registry that sends nothing for this long is cut off and the request retried."},
    {"registries", "max_attempts",
     "Tries per registry request, on connection resets, 5xx and 429 (with back-off)."},
    {"registries", "mirrors",
     "Mirrors tried in order before a registry itself: registry host = [mirror URLs].",
     "\"docker.io\" = [\"https://mirror.example\"]"},

    {"images", "", "How pulls use the node, and the limits that stop hostile layers."},
    {"images", "parallel_layers", "Layers fetched and unpacked at once, per pull (1-16)."},
    {"images", "max_layer_entries", "Most tar entries one layer may hold."},
    {"images", "max_layer_size", "Most uncompressed bytes of one layer."},
    {"images", "max_file_size", "Largest file one layer may hold."},

    {"isolation", "", "How sandboxes are placed on the host."},
    {"isolation", "cgroup_base",
     "Sandboxes' cgroups: <hierarchy>/<cgroup_base>/sandboxes/<id>. Two svcd on one host need "
     "two names."},
    {"isolation", "shim_cgroup",
     "Cgroup of the per-sandbox shims, apart from svcd's own so that a restart of svcd (or of "
     "its systemd unit) leaves them running."},
    {"isolation", "uid_base",
     "First host uid and gid of the per-sandbox id ranges (65536 ids each). Keep it clear of "
     "the host's users and of /etc/subuid."},

    {"node", "", "What this node offers to tasks and instances (admission counts requests)."},
    {"node", "cpus", "Allocatable vCPUs; 0 = every online CPU. \"1500m\" is 1.5.", "4"},
    {"node", "memory", "Allocatable memory; empty = 90 % of RAM.", "\"16Gi\""},
    {"node", "cpu_overcommit",
     "How many times the allocatable vCPUs may be requested in all (CPU is shared, not lost; "
     "memory is never overcommitted)."},
    {"node", "default_cpu_request",
     "vCPUs a task or instance without --cpu requests (admission counts it; no limit follows)."},
    {"node", "default_memory_request", "Memory a task or instance without --memory requests."},
    {"node", "default_memory_limit",
     "Memory limit of a task or instance without --memory (the cgroup's hard limit)."},
    {"node", "default_pids", "Most processes in one sandbox (its pids cgroup)."},

    {"network", "", "Sandboxes' networks (--network private|bridge|none)."},
    {"network", "dns", "Name servers written to a bridged sandbox's /etc/resolv.conf."},
    {"network", "bridge_reach_host",
     "Whether a bridged sandbox may connect to this host's own addresses."},
    {"network", "bridge_reach_each_other",
     "Whether bridged sandboxes may connect to each other."},

    {"schedules", "", "Cron schedules (svctl schedule)."},
    {"schedules", "allow_seconds", "Accept a sixth, seconds field in cron expressions."},
    {"schedules", "history", "Runs of each schedule kept for describe."},
    {"schedules", "starting_deadline",
     "Default of --starting-deadline: how late a run may start (after svcd was down) before it "
     "is skipped."},

    {"billing", "", "Prices, in money units per second of use."},
    {"billing", "price_vcpu_second", "Price of one vCPU for one second."},
    {"billing", "price_gib_second", "Price of one GiB of memory for one second."},
    {"billing", "task_minimum", "Shortest billed duration of a task (as Fargate bills)."},
    {"billing", "price_million_requests", "Price of one million requests served by instances."},
    {"billing", "currency", "The currency label printed beside every cost."},
    {"billing", "billed_resources", "What is billed: \"requests\" or \"limits\"."},
    {"billing", "service_mode",
     "Default billing of service instances: \"instance\" (every second one exists) or "
     "\"request\" (start-up, shut-down and seconds with a request in flight)."},
    {"billing", "checkpoint_interval",
     "How often a running run's measured usage is written (a crash loses at most this much "
     "measured detail, never a billed second)."},
};

// Wraps text at width, each line starting with prefix.
std::string wrap(std::string_view text, std::string_view prefix, std::size_t width = 96) {
  std::string out, line;
  std::istringstream words{std::string(text)};
  std::string w;
  while (words >> w) {
    if (!line.empty() && prefix.size() + line.size() + 1 + w.size() > width) {
      out += fmt::format("{}{}\n", prefix, line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + w;
  }
  if (!line.empty()) out += fmt::format("{}{}\n", prefix, line);
  return out;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// A TOML value as a person would type it (basic strings, shortest numbers).
std::string render(const toml::node& n) {
  if (auto s = n.as_string()) return quote(s->get());
  if (auto i = n.as_integer()) return fmt::format("{}", i->get());
  if (auto f = n.as_floating_point()) return fmt::format("{}", f->get());
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  if (auto a = n.as_array()) {
    std::string out = "[";
    for (std::size_t i = 0; i < a->size(); ++i) out += (i ? ", " : "") + render(*a->get(i));
    return out + "]";
  }
  if (auto t = n.as_table()) {
    std::string out = "{";
    bool first = true;
    for (auto&& [k, v] : *t) {
      out += fmt::format("{} {} = {}", first ? "" : ",", quote(k.str()), render(v));
      first = false;
    }
    return out + (first ? "}" : " }");
  }
  return "";
}

std::string_view type_of(const toml::node& n) {
  if (n.is_string()) return "string";
  if (n.is_integer()) return "integer";
  if (n.is_floating_point()) return "number";
  if (n.is_boolean()) return "boolean";
  if (n.is_array()) return "array of strings";
  if (n.is_table()) return "table";
  return "value";
}

toml::table defaults() {
  // The text to_toml prints starts with a comment line; toml++ reads it back as it wrote it.
  std::string text = to_toml(Config{});
  return toml::parse(std::string_view(text), std::string_view("defaults"));
}

const toml::node* find_default(const toml::table& root, const ConfigKeyDoc& d) {
  const toml::table* t = root.get_as<toml::table>(d.table);
  return t ? t->get(d.key) : nullptr;
}

}  // namespace

const std::vector<ConfigKeyDoc>& config_key_docs() { return kDocs; }

std::vector<std::string> effective_config_keys() {
  std::vector<std::string> keys;
  toml::table root = defaults();
  for (auto&& [table, node] : root) {
    const toml::table* t = node.as_table();
    if (!t) continue;
    for (auto&& [key, value] : *t) keys.push_back(fmt::format("{}.{}", table.str(), key.str()));
  }
  return keys;
}

std::string default_config_file() {
  toml::table root = defaults();
  std::string out =
      "# /etc/svcd/svcd.toml: svcd's configuration.\n"
      "#\n"
      "# svcd runs without this file: every key below is shown at its embedded default,\n"
      "# commented out. Uncomment a key and change its value to override it; `svcd "
      "--print-config`\n"
      "# shows what svcd will use, and an unknown key or a bad value stops svcd with the line.\n"
      "# A change takes effect when svcd restarts (systemctl restart svcd: tasks keep running).\n"
      "# The reference of every key: /usr/share/doc/svc/configuration.md.\n";
  for (const auto& d : kDocs) {
    if (d.key.empty()) {
      // Headers stay uncommented, so that uncommenting a key puts it in its table.
      out += fmt::format("\n{}[{}]\n", wrap(d.help, "# "), d.table);
      continue;
    }
    const toml::node* value = find_default(root, d);
    if (!value) continue;  // the unit test makes sure this never happens
    out += "\n" + wrap(d.help, "# ");
    if (value->is_table()) {
      // A sub-table: its own header (it must be the last key of its table, which the unit test
      // checks by reading the uncommented file back).
      if (!d.example.empty()) out += fmt::format("# For example: {}\n", d.example);
      out += fmt::format("[{}.{}]\n", d.table, d.key);
      for (auto&& [k, v] : *value->as_table())
        out += fmt::format("#{} = {}\n", quote(k.str()), render(v));
      continue;
    }
    if (!d.example.empty()) out += fmt::format("# For example: {} = {}\n", d.key, d.example);
    out += fmt::format("#{} = {}\n", d.key, render(*value));
  }
  return out;
}

std::string config_reference_markdown() {
  toml::table root = defaults();
  std::string out =
      "# Configuration reference\n\n"
      "<!-- Generated by `svcd --generate config-reference` from the table svcd reads "
      "(daemon/config_reference.cpp); do not edit by hand. -->\n\n"
      "svcd runs with no config file. `/etc/svcd/svcd.toml` (or `--config FILE`) overrides the\n"
      "embedded defaults below, and `--state-dir`, `--run-dir` and `--log-level` override the\n"
      "file. `svcd --print-config` prints the effective configuration. An unknown key, a value\n"
      "of the wrong type or a bad value stops svcd with the file, line and key. Durations are\n"
      "strings such as `\"30s\"`, `\"5m\"` or `\"1h\"`; sizes are strings such as `\"512Mi\"`\n"
      "or `\"16Gi\"`.\n\n"
      "The package installs this file with every key commented out at its default.\n";
  for (const auto& d : kDocs) {
    if (d.key.empty()) {
      out += fmt::format(
          "\n## [{}]\n\n{}\n\n| key | type | default | meaning |\n"
          "| --- | --- | --- | --- |\n",
          d.table, d.help);
      continue;
    }
    const toml::node* value = find_default(root, d);
    if (!value) continue;
    std::string help(d.help);
    if (!d.example.empty()) help += fmt::format(" Example: `{}`.", d.example);
    std::string def = render(*value);
    for (auto& c : help)
      if (c == '|') c = '/';
    out += fmt::format("| `{}` | {} | `{}` | {} |\n", d.key, type_of(*value), def, help);
  }
  return out;
}

}  // namespace svc::daemon
