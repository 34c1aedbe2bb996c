#include "isolation/oci_cli/hooks.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "common/syscall.hpp"

namespace svc::isolation::oci {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kHooksFile = "hooks.json";

// One hook: spawned with the state on stdin (a socket, so that a hook which exits without
// reading costs us no SIGPIPE), waited for up to its timeout, killed past it.
Result<> run_hook(const OciHook& hook, const std::string& state, const char* which, int index) {
  auto what = [&] { return fmt::format("{} hook {} ({})", which, index, hook.path); };
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
    return fail_errno(what() + ": socketpair");
  UniqueFd ours(sp[0]), theirs(sp[1]);
  std::vector<std::string> args =
      hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, theirs.get(), 0);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, hook.path.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  theirs.reset();
  if (rc != 0) return fail_errno(rc, what() + ": run it");
  UniqueFd pidfd(sys::pidfd_open(pid));
  // The state is small (a few hundred bytes): it fits the socket's buffer whether or not the
  // hook reads it.
  (void)::send(ours.get(), state.data(), state.size(), MSG_NOSIGNAL);
  ours.reset();
  bool timed_out = false;
  if (hook.timeout_seconds > 0 && pidfd) {
    struct pollfd p = {pidfd.get(), POLLIN, 0};
    int n;
    do {
      n = ::poll(&p, 1, hook.timeout_seconds * 1000);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return fail(Code::kDeadlineExceeded, "{}: still running after its timeout of {} s; killed",
                what(), hook.timeout_seconds);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status))
    return fail(Code::kFailedPrecondition, "{}: exited with status {}", what(),
                WEXITSTATUS(status));
  return fail(Code::kFailedPrecondition, "{}: killed by signal {}", what(), WTERMSIG(status));
}

json hooks_json(const std::vector<OciHook>& hooks) {
  json a = json::array();
  for (const auto& h : hooks) {
    json j = {{"path", h.path}, {"args", h.args}, {"env", h.env}};
    if (h.timeout_seconds > 0) j["timeout"] = h.timeout_seconds;
    a.push_back(j);
  }
  return a;
}

std::vector<OciHook> hooks_from(const json& a) {
  std::vector<OciHook> out;
  for (const auto& j : a) {
    OciHook h;
    h.path = j.at("path").get<std::string>();
    h.args = j.value("args", std::vector<std::string>());
    h.env = j.value("env", std::vector<std::string>());
    h.timeout_seconds = j.value("timeout", 0);
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace

Result<> run_hooks(const std::vector<OciHook>& hooks, const std::string& state_json,
                   const char* which) {
  for (std::size_t i = 0; i < hooks.size(); ++i)
    SVC_TRY(run_hook(hooks[i], state_json, which, static_cast<int>(i)));
  return {};
}

Result<> save_hooks(const fs::path& sandbox_dir, const OciHooks& hooks) {
  json j = {{"poststart", hooks_json(hooks.poststart)}, {"poststop", hooks_json(hooks.poststop)}};
  return write_file_atomic(sandbox_dir / kHooksFile, j.dump());
}

Result<OciHooks> load_hooks(const fs::path& sandbox_dir) {
  OciHooks out;
  auto text = read_file(sandbox_dir / kHooksFile);
  if (!text) {
    if (text.error().sys_errno() == ENOENT) return out;  // a container without hooks
    return tl::unexpected(std::move(text).error());
  }
  try {
    json j = json::parse(*text);
    out.poststart = hooks_from(j.value("poststart", json::array()));
    out.poststop = hooks_from(j.value("poststop", json::array()));
  } catch (const json::exception& e) {
    return fail(Code::kInternal, "{}: {}", (sandbox_dir / kHooksFile).string(), e.what());
  }
  return out;
}

}  // namespace svc::isolation::oci
