#include "tests/support/test_httpd.hpp"

#include <stdlib.h>

#include <fstream>
#include <sstream>

#include "tests/support/http_client.hpp"

namespace svc::test {

std::string test_httpd_binary() {
#ifdef SVC_TEST_HTTPD
  return SVC_TEST_HTTPD;
#else
  return "";
#endif
}

TestHttpd::TestHttpd(std::vector<std::string> extra_args, std::map<std::string, std::string> env)
    : args_(std::move(extra_args)), env_(std::move(env)) {
  char tmpl[] = "/tmp/svc-test-httpd-XXXXXX";
  if (::mkdtemp(tmpl)) dir_ = tmpl;
  for (std::size_t i = 0; i + 1 < args_.size(); ++i)
    if (args_[i] == "--port") port_ = std::stoi(args_[i + 1]);
  if (env_.count("PORT")) port_ = std::stoi(env_["PORT"]);
}

TestHttpd::~TestHttpd() {
  kill_now();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

void TestHttpd::launch() {
  std::vector<std::string> argv{test_httpd_binary()};
  bool has_port = false;
  for (auto& a : args_) has_port = has_port || a == "--port";
  if (!has_port && !env_.count("PORT")) argv.insert(argv.end(), {"--port", "0"});
  argv.insert(argv.end(), args_.begin(), args_.end());
  process_ = std::make_unique<Background>(argv, (dir_ / "log").string(), env_);
}

bool TestHttpd::wait_listening(std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::string text = log();
    auto at = text.find("listening on ");
    auto nl = at == std::string::npos ? std::string::npos : text.find('\n', at);
    if (nl != std::string::npos) {
      auto colon = text.rfind(':', nl);
      port_ = std::stoi(text.substr(colon + 1, nl - colon - 1));
      return true;
    }
    if (!process_->running() || std::chrono::steady_clock::now() >= end) return false;
    struct timespec ts {
      0, 1'000'000
    };
    nanosleep(&ts, nullptr);
  }
}

bool TestHttpd::start(std::chrono::milliseconds timeout) {
  launch();
  return wait_listening(timeout);
}

std::optional<int> TestHttpd::stop(int sig, std::chrono::milliseconds timeout) {
  if (!process_) return std::nullopt;
  return process_->stop(sig, timeout);
}

void TestHttpd::kill_now() {
  if (process_) process_->kill_now();
}

bool TestHttpd::wait_log(const std::string& needle, std::chrono::milliseconds timeout) const {
  return wait_for_line((dir_ / "log").string(), needle, timeout);
}

std::string TestHttpd::log() const {
  std::ifstream in(dir_ / "log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace svc::test
