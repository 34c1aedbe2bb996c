#include "daemon/config.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sstream>

#include <toml++/toml.h>

#include "common/address.hpp"
#include "common/digest.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/units.hpp"
#include "daemon/billing/money.hpp"
#include "daemon/billing/usage_record.hpp"

namespace svc::daemon {

namespace {

std::string where(std::string_view source, const toml::source_region& region) {
  if (region.begin.line == 0) return std::string(source);
  return fmt::format("{}:{}:{}", source, region.begin.line, region.begin.column);
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// Walks one table: every key must be consumed by a handler, else it is unknown.
class TableReader {
 public:
  TableReader(std::string_view source, std::string prefix, const toml::table& table)
      : source_(source), prefix_(std::move(prefix)), table_(table) {}

  template <class Fn>
  Result<> on(std::string_view key, Fn&& fn) {
    known_.emplace_back(key);
    const toml::node* node = table_.get(key);
    if (!node) return {};
    return fn(*node);
  }

  Result<> string(std::string_view key, std::string& out) {
    return on(key, [&](const toml::node& node) -> Result<> {
      auto v = node.value<std::string>();
      if (!node.is_string() || !v) return type_error(key, node, "a string");
      out = *v;
      return {};
    });
  }

  Result<> string_list(std::string_view key, std::vector<std::string>& out) {
    return on(key, [&](const toml::node& node) -> Result<> {
      const toml::array* arr = node.as_array();
      if (!arr) return type_error(key, node, "an array of strings");
      out.clear();
      for (const toml::node& item : *arr) {
        if (!item.is_string()) return type_error(key, item, "an array of strings");
        out.push_back(*item.value<std::string>());
      }
      return {};
    });
  }

  Result<> unknown_keys() const {
    for (auto&& [k, v] : table_) {
      bool ok = false;
      for (const auto& known : known_) ok = ok || known == k.str();
      if (!ok) {
        std::string known_list;
        for (const auto& known : known_) known_list += (known_list.empty() ? "" : ", ") + known;
        return fail(Code::kInvalidArgument, "{}: unknown key \"{}\" in [{}] (known keys: {})",
                    where(source_, k.source()), full(k.str()), prefix_, known_list);
      }
    }
    return {};
  }

  std::string full(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : fmt::format("{}.{}", prefix_, key);
  }

  tl::unexpected<Error> type_error(std::string_view key, const toml::node& node,
                                   std::string_view expected) const {
    return fail(Code::kInvalidArgument, "{}: {} must be {}, not {}", where(source_, node.source()),
                full(key), expected, type_name(node));
  }
  tl::unexpected<Error> value_error(std::string_view key, const toml::node& node,
                                    std::string_view problem) const {
    return fail(Code::kInvalidArgument, "{}: {}: {}", where(source_, node.source()), full(key),
                problem);
  }
  std::string_view source() const { return source_; }

 private:
  std::string_view source_;
  std::string prefix_;
  const toml::table& table_;
  std::vector<std::string> known_;
};

Result<> read_daemon(TableReader& r, Config::Daemon& d) {
  SVC_TRY(r.string("state_dir", d.state_dir));
  SVC_TRY(r.string("run_dir", d.run_dir));
  SVC_TRY(r.on("log_level", [&](const toml::node& node) -> Result<> {
    if (!node.is_string()) return r.type_error("log_level", node, "a string");
    std::string level = *node.value<std::string>();
    if (auto ok = validate_log_level(level); !ok)
      return r.value_error("log_level", node, ok.error().message());
    d.log_level = level;
    return {};
  }));
  return r.unknown_keys();
}

Result<> read_api(TableReader& r, Config::Api& a) {
  SVC_TRY(r.on("tcp", [&](const toml::node& node) -> Result<> {
    if (!node.is_string()) return r.type_error("tcp", node, "a string");
    std::string v = *node.value<std::string>();
    if (!v.empty()) {
      if (auto ok = parse_host_port(v, "address"); !ok)
        return r.value_error("tcp", node, ok.error().message());
    }
    a.tcp = v;
    return {};
  }));
  SVC_TRY(r.on("audit_retention", [&](const toml::node& node) -> Result<> {
    if (!node.is_string())
      return r.type_error("audit_retention", node, "a duration such as \"90d\"");
    auto d = parse_duration(*node.value<std::string>());
    if (!d) return r.value_error("audit_retention", node, d.error().message());
    if (d->count() < 3'600'000)
      return r.value_error("audit_retention", node, "must be at least 1h");
    a.audit_retention = *d;
    return {};
  }));
  for (auto [key, out] : {std::pair<std::string_view, std::string*>{"tls_cert", &a.tls_cert},
                          {"tls_key", &a.tls_key},
                          {"client_ca", &a.client_ca}}) {
    SVC_TRY(r.on(key, [&](const toml::node& node) -> Result<> {
      if (!node.is_string()) return r.type_error(key, node, "a string (a file path)");
      std::string v = *node.value<std::string>();
      if (!v.empty() && v.front() != '/')
        return r.value_error(key, node, "must be an absolute path (or \"\" for none)");
      *out = std::move(v);
      return {};
    }));
  }
  SVC_TRY(r.on("require_client_cert", [&](const toml::node& node) -> Result<> {
    if (!node.is_boolean()) return r.type_error("require_client_cert", node, "true or false");
    a.require_client_cert = *node.value<bool>();
    return {};
  }));
  return r.unknown_keys();
}

Result<> read_ingress(TableReader& r, Config::Ingress& i) {
  SVC_TRY(r.on("listen", [&](const toml::node& node) -> Result<> {
    if (!node.is_string()) return r.type_error("listen", node, "a string");
    std::string v = *node.value<std::string>();
    // "" turns the ingress off (no service can be deployed or reached then).
    if (!v.empty())
      if (auto ok = parse_host_port(v, "address"); !ok)
        return r.value_error("listen", node, ok.error().message());
    i.listen = v;
    return {};
  }));
  SVC_TRY(r.on("domain", [&](const toml::node& node) -> Result<> {
    if (!node.is_string()) return r.type_error("domain", node, "a string");
    std::string v = *node.value<std::string>();
    if (v.empty() || v.find_first_of(" /:") != std::string::npos)
      return r.value_error("domain", node, "must be a DNS name such as \"localhost\"");
    i.domain = v;
    return {};
  }));
  SVC_TRY(r.on("metrics_path", [&](const toml::node& node) -> Result<> {
    if (!node.is_string()) return r.type_error("metrics_path", node, "a string");
    std::string v = *node.value<std::string>();
    if (!v.empty() && (v.front() != '/' || v.find_first_of(" ?#") != std::string::npos))
      return r.value_error("metrics_path", node,
                           "must be a path such as \"/metrics\" (or \"\" for none)");
    i.metrics_path = v;
    return {};
  }));
  return r.unknown_keys();
}

Result<> read_registries(TableReader& r, const toml::table& table, Config::Registries& g) {
  SVC_TRY(r.string("default", g.default_registry));
  if (g.default_registry.empty() || g.default_registry.find('/') != std::string::npos)
    return fail(Code::kInvalidArgument,
                "{}: registries.default must be a registry host such as \"docker.io\"", r.source());
  SVC_TRY(r.string_list("insecure", g.insecure));
  SVC_TRY(r.string("auth_file", g.auth_file));
  SVC_TRY(r.on("mirrors", [&](const toml::node& node) -> Result<> {
    const toml::table* mirrors = node.as_table();
    if (!mirrors) return r.type_error("mirrors", node, "a table of arrays");
    g.mirrors.clear();
    for (auto&& [host, list] : *mirrors) {
      const toml::array* arr = list.as_array();
      if (!arr)
        return r.type_error(fmt::format("mirrors.\"{}\"", host.str()), list,
                            "an array of mirror URLs");
      std::vector<std::string> urls;
      for (const toml::node& item : *arr) {
        if (!item.is_string())
          return r.type_error(fmt::format("mirrors.\"{}\"", host.str()), item,
                              "an array of mirror URLs");
        std::string url(item.value<std::string>().value_or(std::string()));
        if (!url.starts_with("https://") && !url.starts_with("http://"))
          return r.value_error(fmt::format("mirrors.\"{}\"", host.str()), item,
                               fmt::format("\"{}\" must start with https:// or http://", url));
        urls.push_back(url);
      }
      g.mirrors[std::string(host.str())] = std::move(urls);
    }
    return {};
  }));
  (void)table;
  SVC_TRY(r.on("stall_timeout", [&](const toml::node& node) -> Result<> {
    if (!node.is_string()) return r.type_error("stall_timeout", node, "a duration such as \"30s\"");
    auto d = parse_duration(*node.value<std::string>());
    if (!d) return r.value_error("stall_timeout", node, d.error().message());
    if (d->count() < 1000) return r.value_error("stall_timeout", node, "must be at least 1s");
    g.stall_timeout = *d;
    return {};
  }));
  SVC_TRY(r.on("max_attempts", [&](const toml::node& node) -> Result<> {
    auto v = node.value<std::int64_t>();
    if (!node.is_integer() || !v) return r.type_error("max_attempts", node, "an integer");
    if (*v < 1 || *v > 20) return r.value_error("max_attempts", node, "must be 1 to 20");
    g.max_attempts = static_cast<int>(*v);
    return {};
  }));
  return r.unknown_keys();
}

Result<> read_isolation(TableReader& r, Config::Isolation& iso) {
  auto cgroup_name = [&](std::string_view key, std::string& out) {
    return r.on(key, [&](const toml::node& node) -> Result<> {
      if (!node.is_string()) return r.type_error(key, node, "a string");
      std::string v(node.value<std::string>().value_or(std::string()));
      // "" (the default): follow the state dir (cgroup_names()).
      bool ok = v.size() <= 64 && v != "." && v != "..";
      for (char ch : v)
        ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.');
      if (!ok)
        return r.value_error(key, node,
                             "a cgroup name: up to 64 letters, digits, '-', '_' or '.' (\"\": "
                             "follow the state dir)");
      out = v;
      return {};
    });
  };
  SVC_TRY(cgroup_name("cgroup_base", iso.cgroup_base));
  SVC_TRY(cgroup_name("shim_cgroup", iso.shim_cgroup));
  SVC_TRY(r.on("uid_base", [&](const toml::node& node) -> Result<> {
    if (!node.is_integer()) return r.type_error("uid_base", node, "an integer");
    std::int64_t v = node.value<std::int64_t>().value_or(0);
    // Ranges of 65536 ids must stay below 2^32-1 (the kernel's "no id").
    if (v < 65536 || v > 3'000'000'000LL)
      return r.value_error("uid_base", node, "must be between 65536 and 3000000000");
    iso.uid_base = static_cast<std::uint64_t>(v);
    return {};
  }));
  return r.unknown_keys();
}

Result<> read_images(TableReader& r, Config::Images& im) {
  SVC_TRY(r.on("parallel_layers", [&](const toml::node& node) -> Result<> {
    auto v = node.value<std::int64_t>();
    if (!node.is_integer() || !v) return r.type_error("parallel_layers", node, "an integer");
    if (*v < 1 || *v > 16) return r.value_error("parallel_layers", node, "must be 1 to 16");
    im.parallel_layers = static_cast<int>(*v);
    return {};
  }));
  SVC_TRY(r.on("max_layer_entries", [&](const toml::node& node) -> Result<> {
    auto v = node.value<std::int64_t>();
    if (!node.is_integer() || !v) return r.type_error("max_layer_entries", node, "an integer");
    if (*v < 1) return r.value_error("max_layer_entries", node, "must be at least 1");
    im.max_layer_entries = static_cast<std::uint64_t>(*v);
    return {};
  }));
  auto size_key = [&](std::string_view key, std::uint64_t& out) {
    return r.on(key, [&, key](const toml::node& node) -> Result<> {
      if (!node.is_string()) return r.type_error(key, node, "a size such as \"64Gi\"");
      auto v = parse_size(*node.value<std::string>());
      if (!v) return r.value_error(key, node, v.error().message());
      if (*v == 0) return r.value_error(key, node, "must not be zero");
      out = *v;
      return {};
    });
  };
  SVC_TRY(size_key("max_layer_size", im.max_layer_size));
  SVC_TRY(size_key("max_file_size", im.max_file_size));
  return r.unknown_keys();
}

Result<> read_network(TableReader& r, Config::Network& n) {
  SVC_TRY(r.on("dns", [&](const toml::node& node) -> Result<> {
    const toml::array* arr = node.as_array();
    if (!arr) return r.type_error("dns", node, "an array of IP addresses");
    n.dns.clear();
    for (const toml::node& item : *arr) {
      auto text = item.value<std::string>();
      in6_addr v6{};
      in_addr v4{};
      if (!item.is_string() || (::inet_pton(AF_INET, text->c_str(), &v4) != 1 &&
                                ::inet_pton(AF_INET6, text->c_str(), &v6) != 1))
        return r.value_error("dns", item,
                             "each entry an IPv4 or IPv6 address, e.g. \"192.0.2.53\"");
      n.dns.push_back(*text);
    }
    return {};
  }));
  for (auto [key, out] :
       {std::pair<std::string_view, bool*>{"bridge_reach_host", &n.bridge_reach_host},
        {"bridge_reach_each_other", &n.bridge_reach_each_other}}) {
    SVC_TRY(r.on(key, [&, key, out](const toml::node& node) -> Result<> {
      if (!node.is_boolean()) return r.type_error(key, node, "true or false");
      *out = *node.value<bool>();
      return {};
    }));
  }
  return r.unknown_keys();
}

Result<> read_node(TableReader& r, Config::Node& n) {
  SVC_TRY(r.on("cpus", [&](const toml::node& node) -> Result<> {
    if (node.is_integer() || node.is_floating_point()) {
      double v = node.is_integer() ? static_cast<double>(*node.value<std::int64_t>())
                                   : *node.value<double>();
      if (v < 0) return r.value_error("cpus", node, "must not be negative (0 = all CPUs)");
      auto millis = parse_cpu_millis(fmt::format("{}", v), true);
      if (!millis) return r.value_error("cpus", node, millis.error().message());
      n.cpu_millis = *millis;
      return {};
    }
    if (node.is_string()) {
      auto millis = parse_cpu_millis(*node.value<std::string>(), true);
      if (!millis) return r.value_error("cpus", node, millis.error().message());
      n.cpu_millis = *millis;
      return {};
    }
    return r.type_error("cpus", node, "a number of CPUs (0 = all) or a string such as \"1500m\"");
  }));
  SVC_TRY(r.on("memory", [&](const toml::node& node) -> Result<> {
    if (!node.is_string())
      return r.type_error("memory", node, "a size string such as \"16Gi\" (\"\" = 90 % of RAM)");
    std::string v = *node.value<std::string>();
    if (v.empty()) {
      n.memory_bytes = 0;
      return {};
    }
    auto bytes = parse_size(v);
    if (!bytes) return r.value_error("memory", node, bytes.error().message());
    n.memory_bytes = *bytes;
    return {};
  }));
  SVC_TRY(r.on("cpu_overcommit", [&](const toml::node& node) -> Result<> {
    if (!node.is_integer() && !node.is_floating_point())
      return r.type_error("cpu_overcommit", node, "a number such as 1 or 4.0");
    double v = node.is_integer() ? static_cast<double>(*node.value<std::int64_t>())
                                 : *node.value<double>();
    if (!(v >= 1.0 && v <= 1000.0))
      return r.value_error("cpu_overcommit", node,
                           "must be 1 (requests up to the allocatable vCPUs) to 1000");
    n.cpu_overcommit = v;
    return {};
  }));
  SVC_TRY(r.on("default_cpu_request", [&](const toml::node& node) -> Result<> {
    if (!node.is_string())
      return r.type_error("default_cpu_request", node, "a CPU amount such as \"10m\" or \"0.1\"");
    auto millis = parse_cpu_millis(*node.value<std::string>());
    if (!millis) return r.value_error("default_cpu_request", node, millis.error().message());
    n.default_cpu_request_millis = *millis;
    return {};
  }));
  auto size_key = [&](std::string_view key, std::uint64_t& out) {
    return r.on(key, [&, key](const toml::node& node) -> Result<> {
      if (!node.is_string()) return r.type_error(key, node, "a size such as \"16Mi\"");
      auto v = parse_size(*node.value<std::string>());
      if (!v) return r.value_error(key, node, v.error().message());
      // The smallest memory limit a sandbox may have (ValidationLimits::min_memory_bytes).
      if (*v < (4ULL << 20)) return r.value_error(key, node, "must be at least 4Mi");
      out = *v;
      return {};
    });
  };
  SVC_TRY(size_key("default_memory_request", n.default_memory_request_bytes));
  SVC_TRY(size_key("default_memory_limit", n.default_memory_limit_bytes));
  SVC_TRY(r.on("default_pids", [&](const toml::node& node) -> Result<> {
    auto v = node.value<std::int64_t>();
    if (!node.is_integer() || !v) return r.type_error("default_pids", node, "an integer");
    if (*v < 1 || *v > 4'194'304)
      return r.value_error("default_pids", node, "must be 1 to 4194304");
    n.default_pids = *v;
    return {};
  }));
  if (n.default_memory_request_bytes > n.default_memory_limit_bytes)
    return fail(Code::kInvalidArgument,
                "{}: node.default_memory_request ({}) is more than node.default_memory_limit ({}): "
                "a request is at most its limit",
                r.source(), format_size(n.default_memory_request_bytes),
                format_size(n.default_memory_limit_bytes));
  return r.unknown_keys();
}

Result<> read_billing(TableReader& r, Config::Billing& b) {
  SVC_TRY(r.on("currency", [&](const toml::node& node) -> Result<> {
    if (!node.is_string()) return r.type_error("currency", node, "a string such as \"USD\"");
    std::string v = *node.value<std::string>();
    bool ok = !v.empty() && v.size() <= 16;
    for (char ch : v) ok = ok && ch > ' ' && ch < 127 && ch != '"' && ch != '\\';
    if (!ok) return r.value_error("currency", node, "1-16 printable characters such as \"USD\"");
    b.currency = v;
    return {};
  }));
  auto price = [&](std::string_view key, std::int64_t& out) {
    return r.on(key, [&, key](const toml::node& node) -> Result<> {
      Result<billing::Nanos> v = fail(Code::kInvalidArgument, "");
      if (node.is_string())
        v = billing::parse_price(*node.value<std::string>());
      else if (node.is_integer())
        v = *node.value<std::int64_t>() < 0
                ? fail(Code::kInvalidArgument, "must not be negative")
                : billing::price_from_number(static_cast<double>(*node.value<std::int64_t>()));
      else if (node.is_floating_point())
        v = billing::price_from_number(*node.value<double>());
      else
        return r.type_error(key, node, "a price such as 0.0000113 or \"0.0000113\"");
      if (!v) return r.value_error(key, node, v.error().message());
      out = *v;
      return {};
    });
  };
  SVC_TRY(price("price_vcpu_second", b.price_vcpu_second_nanos));
  SVC_TRY(price("price_gib_second", b.price_gib_second_nanos));
  SVC_TRY(price("price_million_requests", b.price_million_requests_nanos));
  auto duration = [&](std::string_view key, std::chrono::milliseconds& out,
                      std::chrono::milliseconds min) {
    return r.on(key, [&, key, min](const toml::node& node) -> Result<> {
      if (!node.is_string()) return r.type_error(key, node, "a duration such as \"60s\"");
      auto d = parse_duration(*node.value<std::string>());
      if (!d) return r.value_error(key, node, d.error().message());
      if (*d < min)
        return r.value_error(key, node, fmt::format("must be at least {}", format_duration(min)));
      out = *d;
      return {};
    });
  };
  SVC_TRY(duration("task_minimum", b.task_minimum, std::chrono::milliseconds(0)));
  SVC_TRY(duration("checkpoint_interval", b.checkpoint_interval, std::chrono::seconds(1)));
  auto choice = [&](std::string_view key, std::string& out, auto parse) {
    return r.on(key, [&, key, parse](const toml::node& node) -> Result<> {
      if (!node.is_string()) return r.type_error(key, node, "a string");
      std::string v = *node.value<std::string>();
      if (auto ok = parse(v); !ok) return r.value_error(key, node, ok.error().message());
      out = v;
      return {};
    });
  };
  SVC_TRY(choice("billed_resources", b.billed_resources,
                 [](std::string_view v) { return billing::parse_basis(v); }));
  SVC_TRY(choice("service_mode", b.service_mode,
                 [](std::string_view v) { return billing::parse_mode(v); }));
  return r.unknown_keys();
}

template <class Fn>
Result<> section(TableReader& top, const toml::table& root, std::string_view name, Fn&& fn) {
  return top.on(name, [&](const toml::node& node) -> Result<> {
    const toml::table* t = node.as_table();
    if (!t) return top.type_error(name, node, "a table");
    TableReader r(top.source(), std::string(name), *t);
    return fn(r, *t);
  });
  (void)root;
}

Result<> read_schedules(TableReader& r, Config::Schedules& s) {
  SVC_TRY(r.on("allow_seconds", [&](const toml::node& node) -> Result<> {
    if (!node.is_boolean()) return r.type_error("allow_seconds", node, "a boolean");
    s.allow_seconds = *node.value<bool>();
    return {};
  }));
  SVC_TRY(r.on("starting_deadline", [&](const toml::node& node) -> Result<> {
    if (!node.is_string())
      return r.type_error("starting_deadline", node, "a duration such as \"5m\"");
    auto d = parse_duration(*node.value<std::string>());
    if (!d) return r.value_error("starting_deadline", node, d.error().message());
    if (d->count() < 1000) return r.value_error("starting_deadline", node, "must be at least 1s");
    s.starting_deadline = *d;
    return {};
  }));
  SVC_TRY(r.on("history", [&](const toml::node& node) -> Result<> {
    auto v = node.value<std::int64_t>();
    if (!node.is_integer() || !v) return r.type_error("history", node, "an integer");
    if (*v < 1 || *v > 1000) return r.value_error("history", node, "must be 1 to 1000");
    s.history = static_cast<int>(*v);
    return {};
  }));
  return r.unknown_keys();
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return fail(Code::kInvalidArgument, "{}: {}", where(source_name, e.source()),
                std::string(e.description()));
  }
  Config c;
  TableReader top(source_name, "", root);
  SVC_TRY(section(top, root, "daemon",
                  [&](TableReader& r, const toml::table&) { return read_daemon(r, c.daemon); }));
  SVC_TRY(section(top, root, "api",
                  [&](TableReader& r, const toml::table&) { return read_api(r, c.api); }));
  SVC_TRY(section(top, root, "ingress",
                  [&](TableReader& r, const toml::table&) { return read_ingress(r, c.ingress); }));
  SVC_TRY(section(top, root, "registries", [&](TableReader& r, const toml::table& t) {
    return read_registries(r, t, c.registries);
  }));
  SVC_TRY(section(top, root, "images",
                  [&](TableReader& r, const toml::table&) { return read_images(r, c.images); }));
  SVC_TRY(section(top, root, "isolation", [&](TableReader& r, const toml::table&) {
    return read_isolation(r, c.isolation);
  }));
  SVC_TRY(section(top, root, "network",
                  [&](TableReader& r, const toml::table&) { return read_network(r, c.network); }));
  SVC_TRY(section(top, root, "node",
                  [&](TableReader& r, const toml::table&) { return read_node(r, c.node); }));
  SVC_TRY(section(top, root, "billing",
                  [&](TableReader& r, const toml::table&) { return read_billing(r, c.billing); }));
  SVC_TRY(section(top, root, "schedules", [&](TableReader& r, const toml::table&) {
    return read_schedules(r, c.schedules);
  }));
  for (auto&& [k, v] : root) {
    static constexpr std::string_view kSections[] = {
        "daemon", "api",     "ingress", "registries", "images",
        "isolation", "network", "node", "billing", "schedules"};
    bool ok = false;
    for (auto s : kSections) ok = ok || s == k.str();
    if (!ok)
      return fail(Code::kInvalidArgument,
                  "{}: unknown {} \"{}\" (known tables: daemon, api, ingress, registries, images, "
                  "isolation, network, node, billing, schedules)",
                  where(source_name, k.source()), v.is_table() ? "table" : "key", k.str());
  }
  return c;
}

Result<Config> load_config(const std::optional<std::filesystem::path>& explicit_path) {
  std::filesystem::path path = explicit_path.value_or(kDefaultConfigPath);
  std::error_code ec;
  if (!explicit_path && !std::filesystem::exists(path, ec)) return Config{};
  auto text = read_file(path, 4 * 1024 * 1024);
  if (!text)
    return tl::unexpected(
        std::move(text).error().context(fmt::format("read config {}", path.string())));
  return parse_config(*text, path.string());
}

std::string to_toml(const Config& c) {
  auto strings = [](const std::vector<std::string>& v) {
    toml::array a;
    for (const auto& s : v) a.push_back(s);
    return a;
  };
  toml::table mirrors;
  for (const auto& [host, urls] : c.registries.mirrors) mirrors.insert(host, strings(urls));
  toml::table root{
      {"daemon", toml::table{{"state_dir", c.daemon.state_dir},
                             {"run_dir", c.daemon.run_dir},
                             {"log_level", c.daemon.log_level}}},
      {"api", toml::table{{"tcp", c.api.tcp},
                          {"audit_retention", format_duration(c.api.audit_retention)},
                          {"tls_cert", c.api.tls_cert},
                          {"tls_key", c.api.tls_key},
                          {"client_ca", c.api.client_ca},
                          {"require_client_cert", c.api.require_client_cert}}},
      {"ingress", toml::table{{"listen", c.ingress.listen},
                              {"domain", c.ingress.domain},
                              {"metrics_path", c.ingress.metrics_path}}},
      {"registries", toml::table{{"default", c.registries.default_registry},
                                 {"insecure", strings(c.registries.insecure)},
                                 {"auth_file", c.registries.auth_file},
                                 {"mirrors", std::move(mirrors)},
                                 {"stall_timeout", format_duration(c.registries.stall_timeout)},
                                 {"max_attempts", c.registries.max_attempts}}},
      {"images",
       toml::table{{"parallel_layers", c.images.parallel_layers},
                   {"max_layer_entries", static_cast<std::int64_t>(c.images.max_layer_entries)},
                   {"max_layer_size", format_size(c.images.max_layer_size)},
                   {"max_file_size", format_size(c.images.max_file_size)}}},
      {"isolation", toml::table{{"cgroup_base", c.isolation.cgroup_base},
                                {"shim_cgroup", c.isolation.shim_cgroup},
                                {"uid_base", static_cast<std::int64_t>(c.isolation.uid_base)}}},
      {"network", toml::table{{"dns", strings(c.network.dns)},
                              {"bridge_reach_host", c.network.bridge_reach_host},
                              {"bridge_reach_each_other", c.network.bridge_reach_each_other}}},
      {"node",
       toml::table{
           {"memory", c.node.memory_bytes ? format_size(c.node.memory_bytes) : std::string()},
           {"cpu_overcommit", c.node.cpu_overcommit},
           {"default_cpu_request", format_cpu_millis(c.node.default_cpu_request_millis)},
           {"default_memory_request", format_size(c.node.default_memory_request_bytes)},
           {"default_memory_limit", format_size(c.node.default_memory_limit_bytes)},
           {"default_pids", c.node.default_pids}}},
      {"billing",
       toml::table{
           {"currency", c.billing.currency},
           {"price_vcpu_second", billing::format_scaled(c.billing.price_vcpu_second_nanos, 9)},
           {"price_gib_second", billing::format_scaled(c.billing.price_gib_second_nanos, 9)},
           {"price_million_requests",
            billing::format_scaled(c.billing.price_million_requests_nanos, 9)},
           {"task_minimum", format_duration(c.billing.task_minimum)},
           {"billed_resources", c.billing.billed_resources},
           {"service_mode", c.billing.service_mode},
           {"checkpoint_interval", format_duration(c.billing.checkpoint_interval)}}},
      {"schedules",
       toml::table{{"allow_seconds", c.schedules.allow_seconds},
                   {"starting_deadline", format_duration(c.schedules.starting_deadline)},
                   {"history", c.schedules.history}}},
  };
  toml::table* node = root["node"].as_table();
  if (c.node.cpu_millis % 1000 == 0)
    node->insert("cpus", c.node.cpu_millis / 1000);
  else
    node->insert("cpus", static_cast<double>(c.node.cpu_millis) / 1000.0);
  std::ostringstream out;
  out << "# svcd effective configuration (embedded defaults, then the file, then flags)\n";
  out << root << "\n";
  return out.str();
}

CgroupNames cgroup_names(const Config& c) {
  CgroupNames n;
  std::string dir = std::filesystem::path(c.daemon.state_dir).lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::string derived =
      dir == "/var/lib/svcd" ? "svc" : "svc-" + Digest::sha256_of(dir).hex().substr(0, 8);
  n.base = !c.isolation.cgroup_base.empty() ? c.isolation.cgroup_base : derived;
  n.shims = !c.isolation.shim_cgroup.empty() ? c.isolation.shim_cgroup : n.base + "-shims";
  return n;
}

namespace {

// 127.0.0.0/8, ::1 and "localhost": addresses only this machine can reach.
bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  if (::inet_pton(AF_INET, std::string(host).c_str(), &a) == 1)
    return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

}  // namespace

Result<> validate_api_tls(const Config::Api& a) {
  if (a.tls_cert.empty() != a.tls_key.empty())
    return fail(Code::kInvalidArgument,
                "api.tls_cert and api.tls_key go together: set both (a PEM certificate and its "
                "key) or neither");
  if (a.tls_cert.empty() && (!a.client_ca.empty() || a.require_client_cert))
    return fail(Code::kInvalidArgument,
                "api.client_ca and api.require_client_cert need TLS: set api.tls_cert and "
                "api.tls_key too");
  if (a.require_client_cert && a.client_ca.empty())
    return fail(Code::kInvalidArgument,
                "api.require_client_cert needs api.client_ca, the CA that signs the client "
                "certificates");
  if (!a.tcp.empty() && a.tls_cert.empty()) {
    auto addr = SVC_TRY(parse_host_port(a.tcp, "api.tcp"));
    if (!is_loopback_host(addr.host))
      return fail(Code::kInvalidArgument,
                  "api.tcp \"{}\" can be reached from other machines, and tokens must not cross "
                  "a network in clear: set api.tls_cert and api.tls_key (docs/security.md), or "
                  "listen on 127.0.0.1",
                  a.tcp);
  }
  return {};
}

Result<> validate(const Config& c) {
  if (c.daemon.state_dir.empty() || c.daemon.state_dir.front() != '/')
    return fail(Code::kInvalidArgument, "daemon.state_dir \"{}\" must be an absolute path",
                c.daemon.state_dir);
  if (c.daemon.run_dir.empty() || c.daemon.run_dir.front() != '/')
    return fail(Code::kInvalidArgument, "daemon.run_dir \"{}\" must be an absolute path",
                c.daemon.run_dir);
  if (c.socket_path().string().size() >= 108)
    return fail(Code::kInvalidArgument,
                "daemon.run_dir \"{}\" is too long: the socket path must stay under 108 bytes",
                c.daemon.run_dir);
  SVC_TRY(validate_log_level(c.daemon.log_level));
  SVC_TRY(validate_api_tls(c.api));
  return {};
}

}  // namespace svc::daemon
