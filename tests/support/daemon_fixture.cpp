#include "tests/support/daemon_fixture.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace svc::test {

std::string svcd_path() { return SVC_SVCD; }
std::string svctl_path() { return SVC_SVCTL; }

namespace {
// Removes a cgroup and its children in every hierarchy (only empty ones can go).
void remove_cgroup_tree(const std::string& name) {
  std::error_code ec;
  for (const auto& h : std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    std::filesystem::path top = h.path() / name;
    if (!std::filesystem::is_directory(top, ec)) continue;
    std::vector<std::filesystem::path> dirs;
    for (auto it = std::filesystem::recursive_directory_iterator(top, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->is_directory(ec)) dirs.push_back(it->path());
    std::sort(dirs.begin(), dirs.end(),
              [](const auto& a, const auto& b) { return a.string().size() > b.string().size(); });
    for (const auto& d : dirs) ::rmdir(d.c_str());
    ::rmdir(top.c_str());
  }
}
}  // namespace

DaemonFixture::DaemonFixture(const Options& options) : dir_("svc-it-"), options_(options) {
  static int instances = 0;
  instance_ = ++instances;
}

DaemonFixture::~DaemonFixture() {
  try {
    remove_all_services();
    remove_all_tasks();
  } catch (const std::exception&) {
    // Best effort: the test already failed if svcd cannot start again.
  }
  if (proc_ && proc_->running()) {
    if (!proc_->stop(SIGTERM, std::chrono::seconds(5))) proc_->kill_now();
  }
  if (proc_) {
    remove_cgroup_tree(cgroup_base());
    remove_cgroup_tree(cgroup_base() + "-shims");
  }
}

std::string DaemonFixture::cgroup_base() const {
  return fmt::format("svc-it-{}-{}", ::getpid(), instance_);
}

void DaemonFixture::start() {
  std::string config = options_.extra_config;
  if (config.find("[ingress]") == std::string::npos) {
    // Its own port, picked by the kernel: tests run side by side (read back below).
    config += "\n[ingress]\nlisten = \"127.0.0.1:0\"\n";
  }
  if (config.find("[isolation]") == std::string::npos) {
    // Cgroups of this test's own, removed at the end: the host's svc cgroups (a real svcd's)
    // are never touched.
    config += fmt::format("\n[isolation]\ncgroup_base = \"{}\"\nshim_cgroup = \"{}-shims\"\n",
                          cgroup_base(), cgroup_base());
  }
  if (!write_file_atomic(config_path(), config)) throw std::runtime_error("write config");
  std::vector<std::string> argv = {svcd_path(),        "--config",           config_path().string(),
                                   "--state-dir",      state_dir().string(), "--run-dir",
                                   run_dir().string(), "--log-level",        "debug"};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  proc_ = std::make_unique<Background>(argv, (dir() / "svcd.log").string(), options_.env);
  bool up = wait_for(
      [&] {
        if (!proc_->running()) return true;
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, socket().c_str(), sizeof a.sun_path - 1);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
      },
      std::chrono::seconds(30));
  if (!up || !proc_->running()) throw std::runtime_error("svcd did not start; its log:\n" + log());
  auto info = svctl({"node", "info", "-o", "json"}, std::chrono::seconds(30));
  if (info.exit_code != 0)
    throw std::runtime_error("svctl node info: " + info.err + "\nsvcd's log:\n" + log());
  try {
    ingress_address_ = nlohmann::json::parse(info.out).value("ingressAddress", "");
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("svctl node info -o json: ") + e.what() + "\n" + info.out);
  }
}

int DaemonFixture::ingress_port() const {
  auto colon = ingress_address_.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(ingress_address_.c_str() + colon + 1);
}

std::string DaemonFixture::service_url(const std::string& name, const std::string& path) const {
  return fmt::format("http://{}.localhost:{}{}", name, ingress_port(), path);
}

void DaemonFixture::remove_all_services() {
  if (!proc_) return;
  if (!proc_->running()) {
    std::error_code ec;
    if (!std::filesystem::exists(state_dir() / "instances", ec) ||
        std::filesystem::is_empty(state_dir() / "instances", ec))
      return;
    start();  // re-adopts the instances, so it can stop them
  }
  auto names = svctl({"services", "-q"}, std::chrono::seconds(30));
  std::istringstream in(names.out);
  std::string name;
  while (in >> name) svctl({"service", "rm", name}, std::chrono::seconds(30));
  // Their instances drain, get their stop signal, then SIGKILL after the grace period.
  wait_for(
      [&] {
        auto info = svctl({"node", "info", "-o", "json"}, std::chrono::seconds(10));
        if (info.exit_code != 0) return true;  // svcd is gone: nothing more to wait for
        try {
          return nlohmann::json::parse(info.out).value("runningInstances", 0) == 0;
        } catch (const std::exception&) {
          return true;
        }
      },
      std::chrono::seconds(60));
}

void DaemonFixture::remove_all_tasks() {
  if (!proc_) return;  // never started
  if (!proc_->running()) {
    // Only a state dir that had tasks needs svcd back to clean them up.
    std::error_code ec;
    if (!std::filesystem::exists(state_dir() / "tasks", ec) ||
        std::filesystem::is_empty(state_dir() / "tasks", ec))
      return;
    start();
  }
  auto ids = svctl({"ps", "-a", "-q"}, std::chrono::seconds(30));
  std::istringstream in(ids.out);
  std::string id;
  while (in >> id) svctl({"rm", "-f", id}, std::chrono::seconds(30));
}

std::optional<int> DaemonFixture::stop(std::chrono::milliseconds timeout) {
  if (!proc_) return std::nullopt;
  return proc_->stop(SIGTERM, timeout);
}

void DaemonFixture::kill9() {
  if (proc_) proc_->stop(SIGKILL, std::chrono::seconds(10));
}

std::string DaemonFixture::log() const {
  auto text = read_file(dir() / "svcd.log");
  return text ? *text : std::string("(no log)");
}

RunResult DaemonFixture::svctl(const std::vector<std::string>& args,
                               std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv = {svctl_path(), "--host", host()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout, {{"SVC_TOKEN", ""}, {"SVC_HOST", ""}});
}

RunResult DaemonFixture::curl(const std::string& method, const std::string& path,
                              const std::string& body) const {
  std::vector<std::string> argv = {
      "curl", "-sS", "--unix-socket", socket().string(), "-X", method, "-o",
      "-",    "-w",  "\n%{http_code}"};
  if (!body.empty()) {
    argv.push_back("-H");
    argv.push_back("Content-Type: application/json");
    argv.push_back("--data-binary");
    // One argument may hold at most 128 KiB (MAX_ARG_STRLEN): big bodies go through a file.
    if (body.size() > 64 * 1024) {
      std::filesystem::path file = dir() / fmt::format("body-{}.json", ++bodies_);
      if (!write_file_atomic(file, body)) throw std::runtime_error("write request body");
      argv.push_back("@" + file.string());
    } else {
      argv.push_back(body);
    }
  }
  argv.push_back("http://svcd" + path);
  RunResult r = run(argv, std::chrono::seconds(60));
  auto nl = r.out.rfind('\n');
  if (nl != std::string::npos) {
    r.exit_code = std::atoi(r.out.c_str() + nl + 1);
    r.out.resize(nl);
  }
  return r;
}

}  // namespace svc::test
