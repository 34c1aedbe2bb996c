#include "isolation/oci_cli/oci_cgroups.hpp"

#include <filesystem>

#include <fmt/format.h>

namespace svc::isolation::oci {

namespace {

constexpr std::string_view kRoot = "root/";
constexpr std::string_view kOwn = "own/";

class OciCgroups final : public CgroupDriver {
 public:
  OciCgroups(std::unique_ptr<CgroupDriver> absolute, std::unique_ptr<CgroupDriver> relative)
      : absolute_(std::move(absolute)), relative_(std::move(relative)) {}

  std::string_view version() const override { return absolute_->version(); }

  Result<> create(std::string_view name, const CgroupLimits& limits) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->create(rest, limits);
  }
  Result<> update(std::string_view name, const CgroupLimits& limits) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->update(rest, limits);
  }
  Result<> set_cpu_quota(std::string_view name, std::int64_t cpu_millis,
                         std::uint64_t period_us) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->set_cpu_quota(rest, cpu_millis, period_us);
  }
  Result<> add_process(std::string_view name, pid_t pid) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->add_process(rest, pid);
  }
  Result<std::vector<UniqueFd>> open_procs_files(std::string_view name) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->open_procs_files(rest);
  }
  Result<std::vector<UniqueFd>> open_self_join_files(std::string_view name) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->open_self_join_files(rest);
  }
  Result<UniqueFd> dir_fd(std::string_view name) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->dir_fd(rest);
  }
  Result<CgroupStats> stats(std::string_view name) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->stats(rest);
  }
  Result<std::vector<pid_t>> pids(std::string_view name) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->pids(rest);
  }
  Result<> kill_all(std::string_view name, int sig) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->kill_all(rest, sig);
  }
  Result<> remove(std::string_view name) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->remove(rest);
  }
  Result<std::vector<std::string>> children(std::string_view name) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->children(rest);
  }
  Result<UniqueFd> open_oom_notifier(std::string_view name) override {
    auto [d, rest] = SVC_TRY(route(name));
    return d->open_oom_notifier(rest);
  }

 private:
  Result<std::pair<CgroupDriver*, std::string_view>> route(std::string_view name) const {
    if (name.starts_with(kRoot))
      return std::pair<CgroupDriver*, std::string_view>(absolute_.get(), name.substr(kRoot.size()));
    if (name.starts_with(kOwn))
      return std::pair<CgroupDriver*, std::string_view>(relative_.get(), name.substr(kOwn.size()));
    return fail(Code::kInvalidArgument,
                "cgroup \"{}\": svc-runtime names its cgroups root/... or own/... (a state dir "
                "written by another svc-runtime version?)",
                name);
  }

  std::unique_ptr<CgroupDriver> absolute_;
  std::unique_ptr<CgroupDriver> relative_;
};

}  // namespace

Result<std::string> cgroup_name(std::string_view cgroups_path, std::string_view id,
                                std::string_view base) {
  if (cgroups_path.empty())
    return base.empty() ? fmt::format("{}{}", kOwn, id) : fmt::format("{}{}/{}", kOwn, base, id);
  if (cgroups_path.find(':') != std::string_view::npos)
    return fail(Code::kInvalidArgument,
                "linux.cgroupsPath \"{}\" looks like a systemd slice:prefix:name; svc-runtime "
                "manages cgroupfs paths only (drop --systemd-cgroup from the caller)",
                cgroups_path);
  std::string clean =
      std::filesystem::path(std::string(cgroups_path)).lexically_normal().generic_string();
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  if (clean.find("..") != std::string::npos)
    return fail(Code::kInvalidArgument, "linux.cgroupsPath \"{}\" leaves its hierarchy",
                cgroups_path);
  if (clean == "/" || clean == "." || clean.empty())
    return fail(Code::kInvalidArgument,
                "linux.cgroupsPath \"{}\" names a hierarchy's root; give the container a cgroup "
                "of its own",
                cgroups_path);
  if (clean.front() == '/') return fmt::format("{}{}", kRoot, clean.substr(1));
  return fmt::format("{}{}", kOwn, clean);
}

std::unique_ptr<CgroupDriver> make_oci_cgroups(std::unique_ptr<CgroupDriver> absolute,
                                               std::unique_ptr<CgroupDriver> relative) {
  return std::make_unique<OciCgroups>(std::move(absolute), std::move(relative));
}

}  // namespace svc::isolation::oci
