#pragma once
// Starts a real svcd on a temp state dir and run dir and stops it at the end of the test; runs
// svctl against it. Binaries come from the build tree (SVC_SVCD / SVC_SVCTL, set by CMake).
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/fs.hpp"
#include "tests/support/process.hpp"

namespace svc::test {

std::string svcd_path();
std::string svctl_path();

class DaemonFixture {
 public:
  struct Options {
    std::string extra_config;  // TOML appended to the generated config
    std::vector<std::string> extra_args;
    std::map<std::string, std::string> env;  // added to svcd's environment
  };
  DaemonFixture() : DaemonFixture(Options{}) {}
  explicit DaemonFixture(const Options& options);
  ~DaemonFixture();

  // Starts svcd and waits for its socket to answer; throws with the daemon's log on failure.
  // After stop() or kill9() it starts again on the same state and run dirs (a restart).
  void start();
  bool running() const { return proc_ && proc_->running(); }
  // SIGTERM and wait; returns svcd's exit code, or nullopt if it did not stop in time.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void kill9();

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path state_dir() const { return dir_.path() / "state"; }
  std::filesystem::path run_dir() const { return dir_.path() / "run"; }
  std::filesystem::path socket() const { return run_dir() / "svcd.sock"; }
  std::filesystem::path config_path() const { return dir_.path() / "svcd.toml"; }
  std::string host() const { return "unix://" + socket().string(); }
  std::string log() const;
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  // Force-removes every task (starting svcd again if it is down), so no sandbox outlives the
  // test: their shims would otherwise keep running. The destructor calls it.
  void remove_all_tasks();
  // Removes every service and waits until their instances stopped (starting svcd again if it is
  // down and instances may run). The destructor calls it.
  void remove_all_services();

  // The ingress as svcd bound it ("127.0.0.1:PORT"; every test daemon listens on port 0 unless
  // extra_config has an [ingress] table), read from Node.Info at start(); "" when it is off.
  const std::string& ingress_address() const { return ingress_address_; }
  int ingress_port() const;
  // Where service NAME answers: "http://NAME.localhost:PORT" (curl resolves *.localhost to the
  // loopback itself).
  std::string service_url(const std::string& name, const std::string& path = "/") const;
  // The cgroup names this svcd uses ([isolation] cgroup_base, and "<base>-shims").
  std::string cgroup_base() const;

  RunResult svctl(const std::vector<std::string>& args,
                  std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // curl over the unix socket: returns body in out; the HTTP status as exit_code.
  RunResult curl(const std::string& method, const std::string& path,
                 const std::string& body = "") const;

 private:
  TempDir dir_;
  Options options_;
  std::unique_ptr<Background> proc_;
  mutable int bodies_ = 0;
  int instance_ = 0;
  std::string ingress_address_;
};

}  // namespace svc::test
