#include "isolation/exec_defaults.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// seccomp.bpf: this magic, the number of instructions (8 bytes, little-endian), the instructions.
constexpr char kMagic[8] = {'s', 'v', 'c', 'b', 'p', 'f', '1', '\n'};

}  // namespace

ExecDefaults exec_defaults_from_plan(const Plan& plan, const SandboxSpec& spec) {
  ExecDefaults d;
  const ChildPlan& c = plan.child;
  d.env = c.env;
  d.cwd = c.cwd.empty() ? "/" : c.cwd;
  d.uid = c.uid;
  d.gid = c.gid;
  d.groups = c.groups;
  d.caps = c.caps;
  d.rlimits = c.rlimits;
  d.no_new_privs = true;  // the first process always sets it (child_exec.cpp)
  d.cap_last_cap = c.cap_last_cap;
  d.seccomp = spec.seccomp.has_value();
  d.layers = spec.rootfs.lower;
  return d;
}

std::string exec_defaults_json(const ExecDefaults& d) {
  json rl = json::array();
  for (const Rlimit& r : d.rlimits)
    rl.push_back({{"resource", r.resource}, {"soft", r.soft}, {"hard", r.hard}});
  json layers = json::array();
  for (const auto& l : d.layers) layers.push_back(l.string());
  json j = {
      {"env", d.env},
      {"cwd", d.cwd},
      {"uid", d.uid},
      {"gid", d.gid},
      {"groups", d.groups},
      {"caps",
       {{"bounding", d.caps.bounding},
        {"effective", d.caps.effective},
        {"permitted", d.caps.permitted},
        {"inheritable", d.caps.inheritable},
        {"ambient", d.caps.ambient}}},
      {"rlimits", rl},
      {"no_new_privs", d.no_new_privs},
      {"cap_last_cap", d.cap_last_cap},
      {"seccomp", d.seccomp},
      {"layers", layers},
  };
  return j.dump(2) + "\n";
}

Result<ExecDefaults> parse_exec_defaults(std::string_view text) {
  try {
    json j = json::parse(text);
    ExecDefaults d;
    d.env = j.at("env").get<std::vector<std::string>>();
    d.cwd = j.at("cwd").get<std::string>();
    d.uid = j.at("uid").get<std::uint32_t>();
    d.gid = j.at("gid").get<std::uint32_t>();
    d.groups = j.at("groups").get<std::vector<std::uint32_t>>();
    const json& c = j.at("caps");
    d.caps.bounding = c.at("bounding").get<std::uint64_t>();
    d.caps.effective = c.at("effective").get<std::uint64_t>();
    d.caps.permitted = c.at("permitted").get<std::uint64_t>();
    d.caps.inheritable = c.at("inheritable").get<std::uint64_t>();
    d.caps.ambient = c.at("ambient").get<std::uint64_t>();
    for (const json& r : j.at("rlimits"))
      d.rlimits.push_back({r.at("resource").get<int>(), r.at("soft").get<std::uint64_t>(),
                           r.at("hard").get<std::uint64_t>()});
    d.no_new_privs = j.at("no_new_privs").get<bool>();
    d.cap_last_cap = j.at("cap_last_cap").get<int>();
    d.seccomp = j.at("seccomp").get<bool>();
    for (const json& l : j.at("layers")) d.layers.emplace_back(l.get<std::string>());
    if (d.cwd.empty() || d.cwd[0] != '/')
      return fail(Code::kDataLoss, "process.json: cwd \"{}\" is not absolute", d.cwd);
    return d;
  } catch (const std::exception& e) {
    return fail(Code::kDataLoss, "process.json is not valid: {}", e.what());
  }
}

// Not flushed to disk, as state.json: they describe a live process, which a power loss ends.
Result<> write_exec_defaults(const fs::path& dir, const ExecDefaults& d,
                             const seccomp::Program* program) {
  if (program) {
    std::string bin(kMagic, sizeof kMagic);
    std::uint64_t n = program->filter.size();
    for (int i = 0; i < 8; ++i) bin.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    bin.append(reinterpret_cast<const char*>(program->filter.data()), n * sizeof(sock_filter));
    SVC_TRY_CTX(write_file_atomic(dir / kSeccompFile, bin, 0600, Flush::kNone),
                "record the seccomp filter");
  }
  SVC_TRY_CTX(write_file_atomic(dir / kExecDefaultsFile, exec_defaults_json(d), 0600, Flush::kNone),
              "record the process for exec");
  return {};
}

Result<ExecDefaults> read_exec_defaults(const fs::path& dir) {
  auto text = read_file(dir / kExecDefaultsFile);
  if (!text)
    return fail(Code::kNotFound,
                "{} is missing: the sandbox was made by an svc without exec support; start it "
                "again to exec into it",
                (dir / kExecDefaultsFile).string());
  return parse_exec_defaults(*text);
}

Result<std::shared_ptr<const seccomp::Program>> read_exec_seccomp(const fs::path& dir) {
  auto bin = SVC_TRY_CTX(read_file(dir / kSeccompFile), "read the sandbox's seccomp filter");
  if (bin.size() < 16 || std::memcmp(bin.data(), kMagic, sizeof kMagic) != 0)
    return fail(Code::kDataLoss, "{}: not a seccomp filter of svc", (dir / kSeccompFile).string());
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i)
    n |= static_cast<std::uint64_t>(static_cast<unsigned char>(bin[8 + i])) << (8 * i);
  if (n == 0 || n > 65536 || bin.size() != 16 + n * sizeof(sock_filter))
    return fail(Code::kDataLoss, "{}: truncated or damaged", (dir / kSeccompFile).string());
  auto p = std::make_shared<seccomp::Program>();
  p->filter.resize(n);
  std::memcpy(p->filter.data(), bin.data() + 16, n * sizeof(sock_filter));
  return std::shared_ptr<const seccomp::Program>(std::move(p));
}

}  // namespace svc::isolation
