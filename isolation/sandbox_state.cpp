#include "isolation/sandbox_state.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;

namespace {

std::string network_name(NetworkMode m) {
  switch (m) {
    case NetworkMode::kPrivate:
      return "private";
    case NetworkMode::kNone:
      return "none";
    case NetworkMode::kBridge:
      return "bridge";
    case NetworkMode::kHost:
      return "host";
  }
  return "private";
}

NetworkMode network_from(const std::string& s) {
  if (s == "none") return NetworkMode::kNone;
  if (s == "bridge") return NetworkMode::kBridge;
  if (s == "host") return NetworkMode::kHost;
  return NetworkMode::kPrivate;
}

}  // namespace

Result<> write_sandbox_record(const fs::path& dir, const SandboxRecord& r) {
  const SandboxInfo& i = r.info;
  nlohmann::json j = {
      {"id", i.id},
      {"pid", i.pid},
      {"pid_start", r.pid_start},
      {"shim_pid", i.shim_pid},
      {"created_at", format_rfc3339_nano(i.created_at)},
      {"id_base", i.ids.host_base},
      {"id_size", i.ids.size},
      {"cgroup", i.cgroup},
      {"network", network_name(i.network)},
      {"address", i.address},
      {"host_veth", r.host_veth},
      {"bundle", i.bundle.string()},
      {"annotations", i.annotations},
      {"stop_signal", i.stop_signal},
      {"stop_grace_ms", i.stop_grace.count()},
  };
  return write_file_atomic(dir / "state.json", j.dump(2) + "\n", 0600, Flush::kNone);
}

Result<SandboxRecord> read_sandbox_record(const fs::path& dir) {
  auto text = SVC_TRY(read_file(dir / "state.json"));
  try {
    auto j = nlohmann::json::parse(text);
    SandboxRecord r;
    SandboxInfo& i = r.info;
    i.id = j.at("id").get<std::string>();
    i.dir = dir;
    i.pid = j.at("pid").get<pid_t>();
    r.pid_start = j.value("pid_start", 0ull);
    i.shim_pid = j.value("shim_pid", 0);
    i.created_at = SVC_TRY(parse_rfc3339(j.at("created_at").get<std::string>()));
    i.ids.host_base = j.value("id_base", 0u);
    i.ids.size = j.value("id_size", 0u);
    i.cgroup = j.value("cgroup", std::string());
    i.network = network_from(j.value("network", std::string("private")));
    i.address = j.value("address", std::string());
    r.host_veth = j.value("host_veth", std::string());
    i.bundle = j.value("bundle", std::string());
    i.annotations = j.value("annotations", std::map<std::string, std::string>());
    i.stop_signal = j.value("stop_signal", 15);
    i.stop_grace = std::chrono::milliseconds(j.value("stop_grace_ms", 10'000));
    return r;
  } catch (const std::exception& e) {
    return fail(Code::kDataLoss, "{}: {}", (dir / "state.json").string(), e.what());
  }
}

unsigned long long process_start_time(const fs::path& proc, pid_t pid) {
  auto text = read_file(proc / std::to_string(pid) / "stat");
  if (!text) return 0;
  // The command name (field 2) may contain spaces and parentheses: count after the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos) return 0;
  const char* p = text->c_str() + close + 1;
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p + 1, ' ');
    if (!p) return 0;
  }
  return std::strtoull(p + 1, nullptr, 10);
}

}  // namespace svc::isolation
