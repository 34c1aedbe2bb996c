#pragma once
// Real sandboxes for integration tests (root only): a busybox-static root file system in a temp
// dir, a Runtime on a temp state dir with a uid pool, cgroups and a shims' cgroup whose names
// include the pid (so parallel test runs never collide), all removed by the destructor even when
// a test fails: every sandbox (forced), the cgroups, the temp dirs.
#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fs.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/runtime.hpp"
#include "isolation/seccomp/seccomp.hpp"
#include "isolation/uid_pool.hpp"
#include "tests/support/skip.hpp"

namespace svc::test {

std::string shim_path();
std::string svc_runtime_path();

// /bin/busybox (Debian's busybox-static) copied into dir/bin with a symlink per applet, plus
// the usual empty directories. Returns false (and says why in *why) when busybox is missing.
bool make_busybox_rootfs(const std::filesystem::path& dir, std::string* why = nullptr);

class SandboxFixture {
 public:
  SandboxFixture();
  ~SandboxFixture();
  SandboxFixture(const SandboxFixture&) = delete;
  SandboxFixture& operator=(const SandboxFixture&) = delete;

  // False when the test cannot run here (not root, no busybox): the constructor has reported
  // the skip (skip.hpp), and the test returns: `if (!fx.usable()) return;`.
  bool usable() const { return usable_; }

  isolation::Runtime& runtime() { return *runtime_; }
  // Another runtime on the same state dir, cgroups and pool: what a restarted daemon builds.
  // adjust: changes to the options first (e.g. forcing an older kernel's code path).
  std::unique_ptr<isolation::Runtime> make_runtime(
      const std::function<void(isolation::RuntimeOptions&)>& adjust = {}) const;
  // bridge: other bridge options than the fixture's (its name, subnet and address file stay).
  std::unique_ptr<isolation::Runtime> make_runtime(isolation::BridgeOptions bridge) const;
  isolation::CgroupDriver& cgroups() { return *driver_; }
  const std::filesystem::path& rootfs() const { return rootfs_; }
  std::filesystem::path state_dir() const { return tmp_.path() / "state"; }
  const std::string& cgroup_base() const { return cgroup_base_; }
  const std::string& shim_cgroup() const { return shim_cgroup_; }
  // The bridge of this fixture's runtime: a name and /24 private to the test process; removed,
  // with its NAT rules, by the destructor (which also restores net.ipv4.ip_forward).
  const isolation::BridgeOptions& bridge() const { return bridge_; }
  isolation::UidPool& pool() const { return *pool_; }

  // A spec running args in the busybox root (stdio to the log, default everything else).
  isolation::SandboxSpec spec(std::vector<std::string> args) const;
  // A fresh sandbox id, unique in this process.
  std::string next_id(const std::string& prefix = "t");

  // Creates, starts and waits; returns the exit record (REQUIREs success).
  isolation::ExitRecord run(const std::string& id, const isolation::SandboxSpec& spec,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // The task's log, text of each line only (stdout and stderr interleaved).
  std::string log_text(const std::string& id) const;

 private:
  bool usable_ = false;
  TempDir tmp_{"svc-sbx-"};
  std::filesystem::path rootfs_;
  std::string cgroup_base_;
  std::string shim_cgroup_;
  isolation::BridgeOptions bridge_;
  std::string ip_forward_;
  std::unique_ptr<isolation::CgroupDriver> driver_;
  std::unique_ptr<isolation::seccomp::Compiler> compiler_;
  std::unique_ptr<isolation::UidPool> pool_;
  std::unique_ptr<isolation::Runtime> runtime_;
};

// Lines of /proc/self/mountinfo (to compare before and after a test).
std::vector<std::string> mount_lines();

}  // namespace svc::test
