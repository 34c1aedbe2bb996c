// Reading and writing seccomp profiles in the OCI runtime-spec format ("linux.seccomp" of
// config.json, config.md "Seccomp"), with Docker's extensions to the same shape (archMap,
// includes/excludes) so Docker's and Podman's profile files load as they do there.
#include <sys/utsname.h>

#include <charconv>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "isolation/host_probe.hpp"
#include "isolation/seccomp/profile_names.hpp"
#include "isolation/seccomp/seccomp.hpp"

namespace svc::isolation::seccomp {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

std::vector<std::string> native_architectures() {
  std::string native = names::native_arch();
  if (native == "SCMP_ARCH_X86_64") return {native, "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  if (native == "SCMP_ARCH_AARCH64") return {native, "SCMP_ARCH_ARM"};
  if (native == "SCMP_ARCH_S390X") return {native, "SCMP_ARCH_S390"};
  if (native == "SCMP_ARCH_PPC64") return {native, "SCMP_ARCH_PPC"};
  return {native};
}

namespace {

// What Docker's includes/excludes are evaluated against.
struct Host {
  std::string goarch;  // "amd64", "arm64", ...
  int kernel_major = 0, kernel_minor = 0;
  std::set<std::string> caps;
};

// "6.18.44-fc" -> {6, 18}; "4.8" -> {4, 8}; nullopt when it does not start with a number.
std::optional<std::pair<int, int>> major_minor(std::string_view v) {
  int major = 0, minor = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), major);
  if (ec != std::errc()) return std::nullopt;
  if (p != v.data() + v.size() && *p == '.') std::from_chars(p + 1, v.data() + v.size(), minor);
  return std::pair{major, minor};
}

Host this_host(const std::vector<std::string>& caps) {
  Host h;
  struct utsname u {};
  if (::uname(&u) == 0) {
    h.goarch = oci_architecture(u.machine);
    if (auto v = major_minor(u.release)) std::tie(h.kernel_major, h.kernel_minor) = *v;
  }
  h.caps.insert(caps.begin(), caps.end());
  return h;
}

tl::unexpected<Error> bad(const std::string& field, const std::string& what) {
  return fail(Code::kInvalidArgument, "seccomp profile: {}: {}", field, what);
}

Result<std::vector<std::string>> strings(const json& j, const std::string& field) {
  if (j.is_null()) return std::vector<std::string>{};
  if (!j.is_array()) return bad(field, "expected an array of strings");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) return bad(fmt::format("{}[{}]", field, i), "expected a string");
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

Result<std::uint64_t> unsigned_number(const json& j, const std::string& field) {
  if (j.is_number_unsigned()) return j.get<std::uint64_t>();
  if (j.is_number_integer() && j.get<std::int64_t>() >= 0)
    return static_cast<std::uint64_t>(j.get<std::int64_t>());
  return bad(field, "expected a non-negative integer");
}

Result<int> errno_number(const json& j, const std::string& field) {
  std::uint64_t v = SVC_TRY(unsigned_number(j, field));
  if (v > 4095) return bad(field, fmt::format("errno {} is out of range (0..4095)", v));
  return static_cast<int>(v);
}

Result<Action> action(const json& j, const std::string& field) {
  if (!j.is_string()) return bad(field, "expected an action name such as \"SCMP_ACT_ALLOW\"");
  std::string s = j.get<std::string>();
  if (s == "SCMP_ACT_TRACE" || s == "SCMP_ACT_NOTIFY")
    return bad(field, fmt::format("{} is not supported (svc runs no tracer or seccomp agent)", s));
  auto a = names::parse_action(s);
  if (!a) return bad(field, fmt::format("unknown action \"{}\"", s));
  return *a;
}

bool kernel_at_least(const Host& h, const std::string& version) {
  auto v = major_minor(version);
  if (!v) return false;
  return std::pair{h.kernel_major, h.kernel_minor} >= *v;
}

// Docker's "includes" / "excludes": whether an entry applies to this host and capability set.
Result<bool> applies(const json& entry, const Host& h, const std::string& field) {
  if (auto it = entry.find("includes"); it != entry.end() && it->is_object()) {
    auto arches = SVC_TRY(strings(it->value("arches", json()), field + ".includes.arches"));
    if (!arches.empty() && std::find(arches.begin(), arches.end(), h.goarch) == arches.end())
      return false;
    auto caps = SVC_TRY(strings(it->value("caps", json()), field + ".includes.caps"));
    for (const auto& c : caps)
      if (!h.caps.count(c)) return false;
    if (auto k = it->find("minKernel");
        k != it->end() && k->is_string() && !kernel_at_least(h, k->get<std::string>()))
      return false;
  }
  if (auto it = entry.find("excludes"); it != entry.end() && it->is_object()) {
    auto arches = SVC_TRY(strings(it->value("arches", json()), field + ".excludes.arches"));
    if (std::find(arches.begin(), arches.end(), h.goarch) != arches.end()) return false;
    auto caps = SVC_TRY(strings(it->value("caps", json()), field + ".excludes.caps"));
    for (const auto& c : caps)
      if (h.caps.count(c)) return false;
    if (auto k = it->find("minKernel");
        k != it->end() && k->is_string() && kernel_at_least(h, k->get<std::string>()))
      return false;
  }
  return true;
}

Result<ArgCondition> arg(const json& j, const std::string& field) {
  if (!j.is_object()) return bad(field, "expected an object with index, value, op");
  ArgCondition a;
  if (!j.contains("index")) return bad(field + ".index", "missing");
  std::uint64_t index = SVC_TRY(unsigned_number(j["index"], field + ".index"));
  if (index > 5)
    return bad(field + ".index", fmt::format("{} is not a syscall argument (0..5)", index));
  a.index = static_cast<unsigned>(index);
  if (j.contains("value")) a.value = SVC_TRY(unsigned_number(j["value"], field + ".value"));
  if (j.contains("valueTwo"))
    a.value_two = SVC_TRY(unsigned_number(j["valueTwo"], field + ".valueTwo"));
  if (!j.contains("op") || !j["op"].is_string())
    return bad(field + ".op", "missing or not a string");
  auto op = names::parse_op(j["op"].get<std::string>());
  if (!op)
    return bad(field + ".op", fmt::format("unknown operator \"{}\"", j["op"].get<std::string>()));
  a.op = *op;
  return a;
}

Result<std::vector<std::string>> architectures(const json& j, const Host&) {
  std::vector<std::string> out;
  if (auto it = j.find("architectures"); it != j.end() && !it->is_null()) {
    out = SVC_TRY(strings(*it, "architectures"));
  } else if (auto map = j.find("archMap"); map != j.end() && map->is_array()) {
    // Docker: the entry for the native architecture names its compat ABIs.
    std::string native = names::native_arch();
    for (std::size_t i = 0; i < map->size(); ++i) {
      const json& e = (*map)[i];
      if (!e.is_object() || e.value("architecture", "") != native) continue;
      out.push_back(native);
      auto subs = SVC_TRY(strings(e.value("subArchitectures", json()),
                                  fmt::format("archMap[{}].subArchitectures", i)));
      out.insert(out.end(), subs.begin(), subs.end());
    }
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!names::arch_token(out[i]))
      return bad(fmt::format("architectures[{}]", i),
                 fmt::format("unknown architecture \"{}\"", out[i]));
  return out;
}

}  // namespace

Result<Profile> parse_oci_profile(std::string_view text, const std::vector<std::string>& caps) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return fail(Code::kInvalidArgument, "seccomp profile: not valid JSON: {}", e.what());
  }
  // A whole config.json: use its linux.seccomp.
  if (j.is_object() && j.contains("linux") && j["linux"].is_object()) {
    if (!j["linux"].contains("seccomp")) return bad("linux.seccomp", "missing");
    j = j["linux"]["seccomp"];
  }
  if (!j.is_object()) return bad("(top level)", "expected an object");
  const Host host = this_host(caps);

  Profile p;
  p.architectures = SVC_TRY(architectures(j, host));
  if (!j.contains("defaultAction")) return bad("defaultAction", "missing");
  p.default_action = SVC_TRY(action(j["defaultAction"], "defaultAction"));
  p.default_errno = 1;  // EPERM, the OCI default
  if (j.contains("defaultErrnoRet") && !j["defaultErrnoRet"].is_null())
    p.default_errno = SVC_TRY(errno_number(j["defaultErrnoRet"], "defaultErrnoRet"));

  auto it = j.find("syscalls");
  if (it == j.end() || it->is_null()) return p;
  if (!it->is_array()) return bad("syscalls", "expected an array");
  for (std::size_t i = 0; i < it->size(); ++i) {
    const std::string field = fmt::format("syscalls[{}]", i);
    const json& e = (*it)[i];
    if (!e.is_object()) return bad(field, "expected an object");
    if (!SVC_TRY(applies(e, host, field))) continue;
    Rule r;
    if (e.contains("names")) {
      r.names = SVC_TRY(strings(e["names"], field + ".names"));
    } else if (e.contains("name") && e["name"].is_string()) {  // Docker's older single name
      r.names = {e["name"].get<std::string>()};
    }
    if (r.names.empty()) return bad(field + ".names", "missing or empty");
    if (!e.contains("action")) return bad(field + ".action", "missing");
    r.action = SVC_TRY(action(e["action"], field + ".action"));
    r.errno_value = 1;
    if (e.contains("errnoRet") && !e["errnoRet"].is_null())
      r.errno_value = SVC_TRY(errno_number(e["errnoRet"], field + ".errnoRet"));
    if (auto a = e.find("args"); a != e.end() && !a->is_null()) {
      if (!a->is_array()) return bad(field + ".args", "expected an array");
      if (a->size() > 6) return bad(field + ".args", "more than 6 conditions");
      for (std::size_t k = 0; k < a->size(); ++k)
        r.args.push_back(SVC_TRY(arg((*a)[k], fmt::format("{}.args[{}]", field, k))));
    }
    if (auto c = e.find("comment"); c != e.end() && c->is_string()) r.why = c->get<std::string>();
    p.rules.push_back(std::move(r));
  }
  return p;
}

std::string to_oci_json(const Profile& p) {
  ordered_json j;
  j["defaultAction"] = names::action(p.default_action);
  if (p.default_action == Action::kErrno) j["defaultErrnoRet"] = p.default_errno;
  if (!p.architectures.empty()) j["architectures"] = p.architectures;
  ordered_json calls = ordered_json::array();
  for (const auto& r : p.rules) {
    ordered_json e;
    e["names"] = r.names;
    e["action"] = names::action(r.action);
    if (r.action == Action::kErrno) e["errnoRet"] = r.errno_value;
    if (!r.args.empty()) {
      ordered_json args = ordered_json::array();
      for (const auto& a : r.args)
        args.push_back({{"index", a.index},
                        {"value", a.value},
                        {"valueTwo", a.value_two},
                        {"op", names::op(a.op)}});
      e["args"] = std::move(args);
    }
    if (!r.why.empty()) e["comment"] = r.why;
    calls.push_back(std::move(e));
  }
  j["syscalls"] = std::move(calls);
  return j.dump(2);
}

}  // namespace svc::isolation::seccomp
