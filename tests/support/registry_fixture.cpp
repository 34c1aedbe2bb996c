#include "tests/support/registry_fixture.hpp"

#include <signal.h>

#include <fstream>
#include <regex>
#include <stdexcept>

namespace svc::test {

namespace fs = std::filesystem;

RunResult skopeo(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout);
}

RegistryFixture::RegistryFixture() : dir_("svc-registry-") {}

RegistryFixture::~RegistryFixture() { stop(); }

void RegistryFixture::start(const std::string& auth_yaml) {
  stop();
  fs::create_directories(dir_.path() / "storage");
  fs::path config = dir_.path() / "config.yml";
  // Port 0: the kernel picks a free port and the registry logs it ("listening on ...").
  std::string listen = port_ ? "127.0.0.1:" + std::to_string(port_) : "127.0.0.1:0";
  {
    std::ofstream out(config);
    out << "version: 0.1\n"
        << "log:\n  level: info\n  accesslog:\n    disabled: false\n"
        << "storage:\n  filesystem:\n    rootdirectory: " << (dir_.path() / "storage").string()
        << "\n  delete:\n    enabled: true\n"
        << "http:\n  addr: " << listen << "\n  secret: svc-test-secret\n"
        << auth_yaml;
  }
  fs::path logfile = dir_.path() / "registry.log";
  std::error_code ec;
  fs::remove(logfile, ec);
  proc_ = std::make_unique<Background>(
      std::vector<std::string>{"docker-registry", "serve", config.string()}, logfile.string(),
      std::map<std::string, std::string>{{"OTEL_TRACES_EXPORTER", "none"}});
  std::regex re("listening on 127\\.0\\.0\\.1:([0-9]+)");
  bool up = wait_for(
      [&] {
        if (!proc_->running()) return true;
        std::smatch m;
        std::string text = log();
        if (std::regex_search(text, m, re)) {
          port_ = std::stoi(m[1]);
          return true;
        }
        return false;
      },
      std::chrono::seconds(20));
  if (!up || !proc_->running() || port_ == 0)
    throw std::runtime_error("docker-registry did not start; its log:\n" + log());
}

void RegistryFixture::stop() {
  if (proc_ && proc_->running()) {
    if (!proc_->stop(SIGTERM, std::chrono::seconds(5))) proc_->kill_now();
  }
  proc_.reset();
}

std::string RegistryFixture::host() const { return "127.0.0.1:" + std::to_string(port_); }

std::string RegistryFixture::log() const {
  auto text = read_file(dir_.path() / "registry.log");
  return text ? *text : std::string();
}

std::string RegistryFixture::push_layout(const fs::path& layout, const std::string& layout_tag,
                                         const std::string& name_tag, PushFormat format, bool all) {
  std::vector<std::string> args = {"copy", "--dest-tls-verify=false"};
  if (format == PushFormat::kDockerV2S2) args.push_back("--format=v2s2");
  if (all) args.push_back("--all");
  if (!creds_.empty()) args.push_back("--dest-creds=" + creds_);
  args.push_back("oci:" + layout.string() + ":" + layout_tag);
  args.push_back("docker://" + host() + "/" + name_tag);
  RunResult r = skopeo(args);
  if (r.exit_code != 0)
    throw std::runtime_error("skopeo copy to " + name_tag + " failed:\n" + r.out + r.err +
                             "\nregistry log:\n" + log());
  return host() + "/" + name_tag;
}

std::string RegistryFixture::push(const ImageBuilder& image, const std::string& name_tag,
                                  PushFormat format) {
  fs::path layout = dir_.path() / ("layout-" + std::to_string(++pushes_));
  image.write_layout(layout, "t");
  return push_layout(layout, "t", name_tag, format);
}

}  // namespace svc::test
