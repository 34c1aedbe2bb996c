#pragma once
// svc-runtime's verbs over the isolation library, following the OCI runtime spec's lifecycle
// (runtime.md: create, start, state, kill, delete) and runc's command line (run, spec,
// features, list), so tools that drive runc or crun can drive svc-runtime.
#include <filesystem>
#include <memory>
#include <string>

#include "common/result.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/oci_spec.hpp"
#include "isolation/runtime.hpp"
#include "isolation/seccomp/seccomp.hpp"
#include "isolation/uid_pool.hpp"

namespace svc::isolation::oci {

struct GlobalOptions {
  std::filesystem::path root = "/run/svc-runtime";  // state: one dir per container
  std::string log_file;                             // --log: errors also go there
  std::string log_format = "text";                  // text | json
  std::uint32_t id_base = 2'100'000'000u;           // id ranges (svcd uses 1e9 and up)
  // Containers without linux.cgroupsPath: <hierarchy>/<own cgroup>/<base>/<id> (runc's default
  // when empty: a cgroup named for the container below the runtime's own).
  std::string cgroup_base;
  std::string shim_cgroup = "svc-shims";
  // --pid-file gets the shim's pid (which exits with the task's status) instead of the task's:
  // for supervisors that waitpid() the pid they are given. Automatic under conmon.
  bool pid_file_shim = false;
};

// svc-runtime exec's flags (runc's names).
struct ExecCliOptions {
  std::string process_file;  // --process: an OCI process JSON (then args are not used)
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd, user, console_socket, pid_file;
  std::vector<std::uint32_t> additional_gids;
  std::vector<std::string> caps;  // --cap: added to the container's
  bool tty = false, detach = false, no_new_privs = false;
};

// Owns the runtime and what it borrows (driver, compiler, pool), for one invocation.
class Cli {
 public:
  explicit Cli(GlobalOptions options);
  ~Cli();
  Result<> init();

  Result<int> create(const std::string& id, const std::filesystem::path& bundle,
                     const std::string& pid_file, const std::string& console_socket);
  Result<int> start(const std::string& id);
  Result<int> state(const std::string& id);
  Result<int> kill(const std::string& id, const std::string& signal, bool all);
  Result<int> remove(const std::string& id, bool force);
  // Foreground: the task's exit code (128+N for signal N); signals to svc-runtime are passed on.
  Result<int> run(const std::string& id, const std::filesystem::path& bundle,
                  const std::string& pid_file, const std::string& console_socket, bool detach,
                  bool keep);
  // runc exec: a process in the running container (exec_command.cpp). Foreground: its exit
  // code, signals passed on; detach: it is left to our subreaper (conmon, containerd's shim).
  Result<int> exec(const std::string& id, const ExecCliOptions& options);
  Result<int> list(bool quiet);

  static Result<int> spec(const std::filesystem::path& bundle);
  static int features();
  // Prints err to stderr (and to --log), returns the exit code 1.
  int report(const Error& err) const;

 private:
  // One line to stderr and to --log (as JSON with --log-format json): "error" or "warning".
  void log_line(const char* level, const std::string& message) const;
  void run_warning_hooks(const std::vector<OciHook>& hooks, const std::string& state,
                         const char* which) const;
  // The OCI state (runtime.md "State"), as `state` prints it and hooks read it on stdin.
  static std::string state_json(const SandboxInfo& info, std::string_view status, bool with_pid);
  Result<SandboxInfo> create_sandbox(const std::string& id, const std::filesystem::path& bundle,
                                     const std::string& pid_file, const std::string& console_socket,
                                     bool start);
  GlobalOptions options_;
  std::unique_ptr<CgroupDriver> cgroups_;
  std::unique_ptr<seccomp::Compiler> compiler_;
  std::unique_ptr<UidPool> pool_;
  std::unique_ptr<Runtime> runtime_;
};

}  // namespace svc::isolation::oci
