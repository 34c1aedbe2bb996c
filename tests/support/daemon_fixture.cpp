#include "tests/support/daemon_fixture.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace svc::test {

std::string svcd_path() { return SVC_SVCD; }
std::string svctl_path() { return SVC_SVCTL; }

DaemonFixture::DaemonFixture(const Options& options) : dir_("svc-it-"), options_(options) {}

DaemonFixture::~DaemonFixture() {
  if (proc_ && proc_->running()) {
    if (!proc_->stop(SIGTERM, std::chrono::seconds(5))) proc_->kill_now();
  }
}

void DaemonFixture::start() {
  std::string config = options_.extra_config;
  if (!write_file_atomic(config_path(), config)) throw std::runtime_error("write config");
  std::vector<std::string> argv = {svcd_path(),
                                   "--config", config_path().string(),
                                   "--state-dir", state_dir().string(),
                                   "--run-dir", run_dir().string(),
                                   "--log-level", "debug"};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  proc_ = std::make_unique<Background>(argv, (dir() / "svcd.log").string());
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
  if (!up || !proc_->running())
    throw std::runtime_error("svcd did not start; its log:\n" + log());
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
  std::vector<std::string> argv = {"curl", "-sS", "--unix-socket", socket().string(), "-X", method,
                                   "-o", "-", "-w", "\n%{http_code}"};
  if (!body.empty()) {
    argv.push_back("-H");
    argv.push_back("Content-Type: application/json");
    argv.push_back("--data-binary");
    argv.push_back(body);
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
