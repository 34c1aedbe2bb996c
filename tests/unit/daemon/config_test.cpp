#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/config.hpp"

using namespace svc;
using namespace svc::daemon;

TEST_CASE("no config at all gives the documented defaults", "[config]") {
  auto c = parse_config("", "svcd.toml").value();
  CHECK(c.daemon.state_dir == "/var/lib/svcd");
  CHECK(c.daemon.run_dir == "/run/svcd");
  CHECK(c.daemon.log_level == "info");
  CHECK(c.api.tcp.empty());
  CHECK(c.ingress.listen == "127.0.0.1:8080");
  CHECK(c.ingress.domain == "localhost");
  CHECK(c.registries.default_registry == "docker.io");
  CHECK(c.node.cpu_millis == 0);
  CHECK(c.node.memory_bytes == 0);
  CHECK(c.billing.price_vcpu_second_nanos == 11'300);
  CHECK(c.billing.price_gib_second_nanos == 1'200);
  CHECK(c.billing.price_million_requests_nanos == 400'000'000);
  CHECK(c.billing.currency == "USD");
  CHECK(c.billing.task_minimum == std::chrono::seconds(60));
  CHECK(c.billing.billed_resources == "requests");
  CHECK(c.billing.service_mode == "instance");
  CHECK(c.billing.checkpoint_interval == std::chrono::seconds(15));
  CHECK(c.socket_path() == "/run/svcd/svcd.sock");
  CHECK(validate(c));
}

TEST_CASE("every documented key is read", "[config]") {
  auto c = parse_config(R"(
[daemon]
state_dir = "/srv/svcd"
run_dir = "/run/x"
log_level = "debug"
[api]
tcp = "127.0.0.1:7070"
[ingress]
listen = "127.0.0.1:9090"
domain = "apps.local"
[registries]
default = "registry.local:5000"
insecure = ["127.0.0.1:5000"]
auth_file = "/etc/svcd/auth.json"
[registries.mirrors]
"docker.io" = ["https://mirror.example"]
[node]
cpus = 1.5
memory = "16Gi"
[billing]
currency = "EUR"
price_vcpu_second = 0.00002
price_gib_second = 0
price_million_requests = "0.000000001"
task_minimum = "1m"
billed_resources = "limits"
service_mode = "request"
checkpoint_interval = "5s"
)",
                        "svcd.toml")
               .value();
  CHECK(c.daemon.state_dir == "/srv/svcd");
  CHECK(c.daemon.log_level == "debug");
  CHECK(c.api.tcp == "127.0.0.1:7070");
  CHECK(c.ingress.domain == "apps.local");
  CHECK(c.registries.default_registry == "registry.local:5000");
  CHECK(c.registries.insecure == std::vector<std::string>{"127.0.0.1:5000"});
  CHECK(c.registries.mirrors.at("docker.io") == std::vector<std::string>{"https://mirror.example"});
  CHECK(c.node.cpu_millis == 1500);
  CHECK(c.node.memory_bytes == 16ULL << 30);
  CHECK(c.billing.currency == "EUR");
  CHECK(c.billing.price_vcpu_second_nanos == 20'000);
  CHECK(c.billing.price_gib_second_nanos == 0);
  CHECK(c.billing.price_million_requests_nanos == 1);
  CHECK(c.billing.task_minimum == std::chrono::minutes(1));
  CHECK(c.billing.billed_resources == "limits");
  CHECK(c.billing.service_mode == "request");
  CHECK(c.billing.checkpoint_interval == std::chrono::seconds(5));
  // A minimum of 0 bills the run time alone; prices given as strings are exact.
  auto zero =
      parse_config("[billing]\ntask_minimum = \"0s\"\nprice_vcpu_second = \"0.0000113\"\n", "f")
          .value();
  CHECK(zero.billing.task_minimum.count() == 0);
  CHECK(zero.billing.price_vcpu_second_nanos == 11'300);
  CHECK(parse_config("[node]\ncpus = \"500m\"\n", "f").value().node.cpu_millis == 500);
  CHECK(parse_config("[node]\ncpus = 2\n", "f").value().node.cpu_millis == 2000);
}

TEST_CASE("unknown keys are errors naming the key and line", "[config]") {
  auto r = parse_config("[daemon]\nstate_dir = \"/x\"\nstatedir = \"/y\"\n", "svcd.toml");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("svcd.toml:3:1") != std::string::npos);
  CHECK(r.error().message().find("daemon.statedir") != std::string::npos);
  auto t = parse_config("[deamon]\n", "svcd.toml");
  REQUIRE_FALSE(t);
  CHECK(t.error().message().find("svcd.toml:1") != std::string::npos);
  CHECK(t.error().message().find("\"deamon\"") != std::string::npos);
  CHECK_FALSE(parse_config("top = 1\n", "f"));
}

TEST_CASE("bad values are errors naming the key and line", "[config]") {
  struct Case {
    const char* text;
    const char* needle;
  };
  for (auto [text, needle] : std::initializer_list<Case>{
           {"[daemon]\nlog_level = \"loud\"\n", "daemon.log_level"},
           {"[daemon]\nstate_dir = 5\n", "daemon.state_dir must be a string, not an integer"},
           {"[api]\ntcp = \"nohost\"\n", "api.tcp"},
           {"[ingress]\nlisten = \"127.0.0.1:99999\"\n", "ingress.listen"},
           {"[node]\nmemory = \"lots\"\n", "node.memory"},
           {"[node]\ncpus = -1\n", "node.cpus"},
           {"[node]\ncpus = true\n", "node.cpus"},
           {"[billing]\ntask_minimum = \"60\"\n", "billing.task_minimum"},
           {"[billing]\nprice_vcpu_second = \"cheap\"\n", "billing.price_vcpu_second"},
           {"[billing]\nprice_gib_second = -1\n", "billing.price_gib_second"},
           {"[billing]\nprice_gib_second = 0.0000000001\n", "more than 9 decimals"},
           {"[billing]\nprice_vcpu_second = \"0.0000000001\"\n", "more than 9 decimals"},
           {"[billing]\nbilled_resources = \"both\"\n", "billing.billed_resources"},
           {"[billing]\nservice_mode = \"always\"\n", "billing.service_mode"},
           {"[billing]\ncheckpoint_interval = \"10ms\"\n", "billing.checkpoint_interval"},
           {"[billing]\ncurrency = \"\"\n", "billing.currency"},
           {"[registries]\ninsecure = \"x\"\n", "registries.insecure"},
           {"[registries.mirrors]\n\"docker.io\" = [\"ftp://x\"]\n", "mirrors"},
           {"daemon = 1\n", "daemon must be a table"},
       }) {
    auto r = parse_config(text, "svcd.toml");
    INFO(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find(needle) != std::string::npos);
    CHECK(r.error().message().find("svcd.toml:") != std::string::npos);
  }
}

TEST_CASE("TOML syntax errors name the line", "[config]") {
  auto r = parse_config("[daemon\n", "svcd.toml");
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("svcd.toml:1") != std::string::npos);
}

TEST_CASE("the printed config parses back to the same config", "[config]") {
  Config c;
  c.daemon.state_dir = "/srv/x";
  c.node.cpu_millis = 1500;
  c.node.memory_bytes = 3ULL << 30;
  c.registries.insecure = {"127.0.0.1:5000"};
  c.registries.mirrors["docker.io"] = {"https://m.example"};
  c.billing.task_minimum = std::chrono::seconds(90);
  c.billing.price_vcpu_second_nanos = 24'000;
  c.billing.billed_resources = "limits";
  std::string text = to_toml(c);
  auto back = parse_config(text, "printed").value();
  CHECK(back.daemon.state_dir == "/srv/x");
  CHECK(back.node.cpu_millis == 1500);
  CHECK(back.node.memory_bytes == 3ULL << 30);
  CHECK(back.registries.insecure == c.registries.insecure);
  CHECK(back.registries.mirrors == c.registries.mirrors);
  CHECK(back.billing.task_minimum == std::chrono::seconds(90));
  CHECK(back.billing.price_vcpu_second_nanos == 24'000);
  CHECK(back.billing.price_gib_second_nanos == 1'200);
  CHECK(back.billing.billed_resources == "limits");
  CHECK(to_toml(back) == text);
}

TEST_CASE("load_config: missing default file is fine, missing explicit file is not", "[config]") {
  TempDir dir;
  auto missing = load_config(dir.path() / "nope.toml");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message().find("nope.toml") != std::string::npos);
  REQUIRE(write_file_atomic(dir.path() / "svcd.toml", "[daemon]\nlog_level = \"warn\"\n"));
  CHECK(load_config(dir.path() / "svcd.toml").value().daemon.log_level == "warn");
}

TEST_CASE("validate refuses relative dirs", "[config]") {
  Config c;
  c.daemon.state_dir = "relative";
  CHECK(validate(c).error().message().find("absolute") != std::string::npos);
  c.daemon.state_dir = "/ok";
  c.daemon.run_dir = "/" + std::string(120, 'r');
  CHECK(validate(c).error().message().find("too long") != std::string::npos);
}

TEST_CASE("[images] limits and registry timeouts are read, checked and printed back", "[config]") {
  auto c = parse_config(R"(
[registries]
stall_timeout = "5s"
max_attempts = 2
[images]
parallel_layers = 4
max_layer_entries = 1000
max_layer_size = "1Gi"
max_file_size = "100Mi"
)",
                        "svcd.toml");
  REQUIRE(c);
  CHECK(c->registries.stall_timeout == std::chrono::seconds(5));
  CHECK(c->registries.max_attempts == 2);
  CHECK(c->images.parallel_layers == 4);
  CHECK(c->images.max_layer_entries == 1000);
  CHECK(c->images.max_layer_size == (1ULL << 30));
  CHECK(c->images.max_file_size == (100ULL << 20));
  auto back = parse_config(to_toml(*c), "printed");
  REQUIRE(back);
  CHECK(back->images.max_layer_size == c->images.max_layer_size);
  CHECK(back->registries.stall_timeout == c->registries.stall_timeout);
  Config d;
  CHECK(d.images.parallel_layers == 3);
  CHECK(d.images.max_layer_entries == 1'000'000);
  for (const char* bad : {"[images]\nparallel_layers = 0\n", "[images]\nmax_layer_size = \"0\"\n",
                          "[registries]\nstall_timeout = \"10ms\"\n", "[images]\nnope = 1\n"}) {
    INFO(bad);
    CHECK(!parse_config(bad, "svcd.toml"));
  }
}

TEST_CASE("[node] resource defaults: small requests by default, read, checked, printed back",
          "[config]") {
  Config d;
  // Without flags a task requests 1m CPU (a weight, no quota) and 16Mi (1,000 fit in 20 GiB),
  // and is limited to 512Mi.
  CHECK(d.node.default_cpu_request_millis == 1);
  CHECK(d.node.default_memory_request_bytes == 16ULL << 20);
  CHECK(d.node.default_memory_limit_bytes == 512ULL << 20);
  CHECK(d.node.cpu_overcommit == 1.0);
  CHECK(d.node.default_pids == 1024);
  auto c = parse_config(R"(
[node]
cpus = 2
cpu_overcommit = 4
default_cpu_request = "10m"
default_memory_request = "32Mi"
default_memory_limit = "1Gi"
default_pids = 256
)",
                        "svcd.toml");
  REQUIRE(c);
  CHECK(c->node.cpu_overcommit == 4.0);
  CHECK(c->node.default_cpu_request_millis == 10);
  CHECK(c->node.default_memory_request_bytes == 32ULL << 20);
  CHECK(c->node.default_memory_limit_bytes == 1ULL << 30);
  CHECK(c->node.default_pids == 256);
  auto back = parse_config(to_toml(*c), "printed");
  REQUIRE(back);
  CHECK(back->node.cpu_overcommit == 4.0);
  CHECK(back->node.default_cpu_request_millis == 10);
  CHECK(back->node.default_memory_request_bytes == 32ULL << 20);
  CHECK(back->node.default_memory_limit_bytes == 1ULL << 30);
  struct Bad {
    const char* toml;
    const char* needle;
  };
  for (const Bad& bad : {
           Bad{"[node]\ncpu_overcommit = 0.5\n", "node.cpu_overcommit"},
           Bad{"[node]\ndefault_cpu_request = \"0\"\n", "node.default_cpu_request"},
           Bad{"[node]\ndefault_cpu_request = 1\n", "node.default_cpu_request"},
           Bad{"[node]\ndefault_memory_request = \"1Mi\"\n", "at least 4Mi"},
           Bad{"[node]\ndefault_memory_limit = \"lots\"\n", "node.default_memory_limit"},
           Bad{"[node]\ndefault_memory_request = \"1Gi\"\ndefault_memory_limit = \"512Mi\"\n",
               "at most its limit"},
           Bad{"[node]\ndefault_pids = 0\n", "node.default_pids"},
       }) {
    INFO(bad.toml);
    auto r = parse_config(bad.toml, "svcd.toml");
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find(bad.needle) != std::string::npos);
  }
}

TEST_CASE("[network]: bridge tasks reach neither the host nor each other unless allowed",
          "[config]") {
  Config d;
  CHECK(d.network.dns.empty());
  CHECK_FALSE(d.network.bridge_reach_host);
  CHECK_FALSE(d.network.bridge_reach_each_other);
  auto c = parse_config(R"(
[network]
dns = ["192.0.2.53", "2001:db8::53"]
bridge_reach_host = true
bridge_reach_each_other = true
)",
                        "svcd.toml");
  REQUIRE(c);
  CHECK(c->network.dns == std::vector<std::string>{"192.0.2.53", "2001:db8::53"});
  CHECK(c->network.bridge_reach_host);
  CHECK(c->network.bridge_reach_each_other);
  auto back = parse_config(to_toml(*c), "printed");
  REQUIRE(back);
  CHECK(back->network.dns == c->network.dns);
  CHECK(back->network.bridge_reach_host);
  for (const char* bad :
       {"[network]\ndns = [\"dns.example\"]\n", "[network]\ndns = \"1.1.1.1\"\n",
        "[network]\nbridge_reach_host = \"yes\"\n", "[network]\nfirewall = 1\n"}) {
    INFO(bad);
    auto r = parse_config(bad, "svcd.toml");
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find("network") != std::string::npos);
  }
}

TEST_CASE("cgroup names follow the state dir unless set, so two svcd never share a tree",
          "[config]") {
  Config c;
  CHECK(cgroup_names(c).base == "svc");  // the default state dir keeps the historic names
  CHECK(cgroup_names(c).shims == "svc-shims");
  c.daemon.state_dir = "/srv/svcd-a";
  auto a = cgroup_names(c);
  c.daemon.state_dir = "/srv/svcd-b/";
  auto b = cgroup_names(c);
  CHECK(a.base.starts_with("svc-"));
  CHECK(a.base.size() == 12);
  CHECK(a.shims == a.base + "-shims");
  CHECK(a.base != b.base);
  c.daemon.state_dir = "/srv/svcd-b";
  CHECK(cgroup_names(c).base == b.base);  // a trailing slash is the same dir
  c.isolation.cgroup_base = "mine";
  CHECK(cgroup_names(c).base == "mine");
  CHECK(cgroup_names(c).shims == "mine-shims");
  c.isolation.shim_cgroup = "parked";
  CHECK(cgroup_names(c).shims == "parked");
  auto parsed = parse_config("[isolation]\ncgroup_base = \"\"\n", "svcd.toml");
  REQUIRE(parsed);
  CHECK(parsed->isolation.cgroup_base.empty());
}

TEST_CASE("[ingress] listen = \"\" turns the ingress off, port 0 lets the kernel pick",
          "[config]") {
  auto off = parse_config("[ingress]\nlisten = \"\"\n", "svcd.toml");
  REQUIRE(off);
  CHECK(off->ingress.listen.empty());
  CHECK(validate(*off));
  auto any = parse_config("[ingress]\nlisten = \"127.0.0.1:0\"\n", "svcd.toml");
  REQUIRE(any);
  CHECK(any->ingress.listen == "127.0.0.1:0");
  CHECK(parse_config(to_toml(*off), "effective").value().ingress.listen.empty());
}

TEST_CASE("[schedules]: allow_seconds, starting_deadline, history", "[config][schedules]") {
  auto d = parse_config("", "svcd.toml").value();
  CHECK_FALSE(d.schedules.allow_seconds);
  CHECK(d.schedules.starting_deadline == std::chrono::minutes(5));
  CHECK(d.schedules.history == 10);
  auto c = parse_config(
               "[schedules]\nallow_seconds = true\nstarting_deadline = \"90s\"\n"
               "history = 25\n",
               "svcd.toml")
               .value();
  CHECK(c.schedules.allow_seconds);
  CHECK(c.schedules.starting_deadline == std::chrono::seconds(90));
  CHECK(c.schedules.history == 25);
  auto back = parse_config(to_toml(c), "printed").value();
  CHECK(back.schedules.allow_seconds);
  CHECK(back.schedules.starting_deadline == std::chrono::seconds(90));
  CHECK(back.schedules.history == 25);
  auto bad = [](const char* text) {
    auto r = parse_config(text, "svcd.toml");
    REQUIRE_FALSE(r);
    return r.error().message();
  };
  CHECK_THAT(bad("[schedules]\nallow_seconds = \"yes\"\n"),
             Catch::Contains("schedules.allow_seconds must be a boolean"));
  CHECK_THAT(bad("[schedules]\nstarting_deadline = \"0s\"\n"), Catch::Contains("at least 1s"));
  CHECK_THAT(bad("[schedules]\nhistory = 0\n"), Catch::Contains("1 to 1000"));
  CHECK_THAT(bad("[schedules]\nevery = 1\n"), Catch::Contains("unknown key \"schedules.every\""));
}
