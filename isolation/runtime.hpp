#pragma once
// The sandbox runtime: creates, starts, signals, stops, inspects and removes sandboxes. It keeps
// no state in memory that matters: each sandbox is a directory under the state dir (state.json,
// the shim's socket, log, exit.json, the overlay's upper dir), so a restarted daemon — or another
// process such as svc-runtime — finds every sandbox with list() and carries on. The task's
// parent is a per-sandbox svc-shim (launch.hpp) that outlives the daemon.
//
// Thread-safe: calls for different sandboxes run in parallel; calls for one sandbox should be
// serialised by the caller (the daemon's task controller does).
#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.hpp"
#include "common/result.hpp"
#include "isolation/attach_client.hpp"
#include "isolation/bridge.hpp"
#include "isolation/cgroups/cgroup_driver.hpp"
#include "isolation/exec_plan.hpp"
#include "isolation/exit_record.hpp"
#include "isolation/netns.hpp"
#include "isolation/rootfs.hpp"
#include "isolation/sandbox_spec.hpp"
#include "isolation/seccomp/seccomp.hpp"
#include "isolation/uid_pool.hpp"

namespace svc::isolation {

struct RuntimeOptions {
  std::filesystem::path state_dir;  // one directory per sandbox, e.g. <state>/sandboxes
  std::filesystem::path shim_path;  // the svc-shim binary
  std::string cgroup_parent =
      "sandboxes";                        // sandbox cgroups: <parent>/<id> below the driver's base
  std::string shim_cgroup = "svc-shims";  // at the top of every cgroup hierarchy
  std::filesystem::path proc = "/proc";
  BridgeOptions bridge;  // NetworkMode::kBridge
  std::chrono::milliseconds setup_timeout{10'000};
  OverlayLayers overlay_layers = OverlayLayers::kAuto;  // kMountData: the pre-6.8 path (tests)
};

enum class SandboxStatus { kCreated, kRunning, kStopped };
std::string_view status_name(SandboxStatus status);  // "created", "running", "stopped"

struct SandboxInfo {
  std::string id;
  std::filesystem::path dir;
  SandboxStatus status = SandboxStatus::kStopped;
  pid_t pid = 0;  // the first process, in the host's pid namespace
  pid_t shim_pid = 0;
  bool shim_alive = false;
  TimePoint created_at{};
  IdRange ids;         // host id of uid/gid 0 inside, and the range size
  std::string cgroup;  // relative to the cgroup driver's base
  NetworkMode network = NetworkMode::kPrivate;
  std::string address;           // bridge mode: the sandbox's IPv4 address
  std::filesystem::path bundle;  // svc-runtime: the OCI bundle
  std::map<std::string, std::string> annotations;
  int stop_signal = 15;
  std::chrono::milliseconds stop_grace{10'000};
  std::optional<ExitRecord> exit;  // set when stopped
};

struct CreateOptions {
  // Create and start in one call (the daemon's tasks): the shim releases the task as soon as it
  // runs, saving a round trip. start() is then not needed (and refused).
  bool start = false;
  // StdioMode::kInherit: the fds for the task's 0, 1, 2 (borrowed; duplicated). -1: /dev/null.
  std::array<int, 3> stdio = {-1, -1, -1};
  std::filesystem::path bundle;  // recorded in state.json (svc-runtime state)
  // The first process is handed to the caller's subreaper (or init) instead of being the shim's
  // child (launch.hpp LaunchRequest::reparent): svc-runtime create, for conmon and containerd.
  // The shim still starts, signals and watches it; its exit status goes to that reaper.
  bool reparent = false;
  // StdioMode::kInherit with spec.terminal: the OCI console socket the pty master is sent to.
  std::filesystem::path console_socket;
};

// A process exec'd into a running sandbox (runtime_exec.cpp).
struct ExecOptions {
  std::string id;  // "": generated (12 hex digits)
  // true: the process's parent is a shim of its own (exec-<id>.sock), which keeps its stdio
  // (pipes or a terminal) for attached clients and outlives the caller: svcd. false: it becomes
  // the caller's (a subreaper's) child, with the caller's stdio, released by release_exec():
  // svc-runtime exec.
  bool shim = true;
  bool start = true;  // shim: run at once; false: once the first client attaches with start
  std::array<int, 3> stdio = {-1, -1, -1};  // !shim, no terminal: its 0, 1, 2 (-1: /dev/null)
  std::filesystem::path console_socket;     // !shim, terminal: where the master is sent
};

struct ExecInfo {
  std::string id;
  pid_t pid = 0;  // in the host's pid namespace
  // !shim: the caller's ends (release_exec).
  UniqueFd start_w;
  UniqueFd execerr_r;
};

// !shim: lets the process exec; the exec's error (NOT_FOUND for a missing program) if it could
// not.
Result<> release_exec(ExecInfo& exec, std::chrono::milliseconds timeout = std::chrono::seconds(10));

class Runtime {
 public:
  // The driver, compiler and pool are borrowed and must outlive the runtime.
  Runtime(RuntimeOptions options, CgroupDriver& cgroups, seccomp::Compiler& seccomp, UidPool& ids);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Sets up every namespace, mount, limit and filter; the task's first process exists but has
  // not exec'd (status created) unless options.start. ALREADY_EXISTS for a used id. On error
  // everything made so far is undone.
  Result<SandboxInfo> create(std::string_view id, const SandboxSpec& spec,
                             const CreateOptions& options = {});
  // Execs the task; fails with the exec error (e.g. NOT_FOUND for a missing binary).
  Result<> start(std::string_view id);
  // For a sandbox created with start: whether its program was exec'd, once its child says so.
  // nullopt: it was; a message ("exec /x: No such file or directory"): execve failed (its exit
  // record says so too). An error only when that cannot be told (no shim, no record).
  Result<std::optional<std::string>> await_exec(std::string_view id);
  // Signals the first process, or with all every process in the sandbox (through its cgroup).
  Result<> kill(std::string_view id, int signal, bool all = false);
  // The stop signal now, SIGKILL after the grace period (the shim's timer: it fires even when
  // the daemon is gone). Defaults: the spec's stop signal and grace.
  Result<> stop(std::string_view id, std::optional<int> signal = std::nullopt,
                std::optional<std::chrono::milliseconds> grace = std::nullopt);
  // Blocks until the task exits (or the timeout: DEADLINE_EXCEEDED).
  Result<ExitRecord> wait(std::string_view id,
                          std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<SandboxInfo> state(std::string_view id);
  // Live usage from the sandbox's cgroup (after the exit: exit.json has the final numbers).
  Result<CgroupStats> stats(std::string_view id);
  // Removes every trace: processes (force, or a created sandbox), cgroup, veth, id range, dir.
  // FAILED_PRECONDITION for a running sandbox without force.
  Result<> remove(std::string_view id, bool force = false);
  // Every sandbox on disk with its shim's liveness: what a restarted daemon re-adopts.
  Result<std::vector<SandboxInfo>> list();
  // What a sandbox left that no one knows of any more (`known`: the ids still wanted), e.g.
  // after a removal cut short by a crash: its processes are killed and its dir, cgroup, veth
  // and id range removed (as remove() does); cgroups below the sandboxes' parent without a
  // dir, and id ranges whose sandbox dir is gone, too. What it removed, for the log.
  struct Orphans {
    std::vector<std::string> sandboxes;
    std::vector<std::string> cgroups;
    std::vector<std::string> id_ranges;
    std::vector<std::string> errors;  // what could not be removed, and why
  };
  Orphans remove_orphans(const std::set<std::string>& known);

  // A TCP connection to port on the sandbox's loopback, from a socket made inside its network
  // namespace: how the proxy reaches instances. Nothing else on the host can reach that port.
  Result<UniqueFd> connect_tcp(std::string_view id, std::uint16_t port,
                               std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // An unconnected socket in the sandbox's network namespace (for asynchronous connects).
  Result<UniqueFd> socket_in(std::string_view id, int domain, int type, int protocol = 0);
  // An fd of the sandbox's network namespace (verified to still belong to its first process).
  Result<UniqueFd> open_netns(std::string_view id);

  // Runs a process inside the running sandbox: in every namespace of its first process, in its
  // cgroup, with its credentials, capabilities, no_new_privs and seccomp filter unless the spec
  // names others (never more capabilities than its bounding set). FAILED_PRECONDITION when the
  // sandbox is not running.
  Result<ExecInfo> exec(std::string_view id, const ExecSpec& spec, const ExecOptions& options = {});
  // Shim-owned exec'd processes: their exit, signals, and removal of their record.
  Result<ExitRecord> wait_exec(std::string_view id, std::string_view exec_id,
                               std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  Result<> kill_exec(std::string_view id, std::string_view exec_id, int signal);
  Result<> remove_exec(std::string_view id, std::string_view exec_id);
  // A client of the task's stdio (options.exec_id empty) or of an exec'd process's, through its
  // shim: output from now on, and input and resizes with options.stdin.
  Result<std::unique_ptr<Attachment>> attach(std::string_view id, const AttachOptions& options);

  const RuntimeOptions& options() const { return options_; }
  std::filesystem::path sandbox_dir(std::string_view id) const;

 private:
  // One create, as named steps with their undo (runtime_create.cpp).
  class Creator;
  // Made on the first create, from the hierarchies of that sandbox's cgroup.
  Result<std::vector<int>> shim_cgroup_fds(
      const std::vector<std::filesystem::path>& sandbox_cgroup_dirs);
  NetnsWorker& netns_worker();
  Bridge& bridge();
  Result<SandboxInfo> read_info(std::string_view id);

  RuntimeOptions options_;
  CgroupDriver& cgroups_;
  seccomp::Compiler& seccomp_;
  UidPool& ids_;
  int cap_last_cap_ = 40;
  std::mutex mu_;  // guards the lazily made members below
  std::unique_ptr<NetnsWorker> netns_;
  std::unique_ptr<Bridge> bridge_;
  std::shared_ptr<struct ShimCgroupsHolder> shim_cgroups_;
};

}  // namespace svc::isolation
