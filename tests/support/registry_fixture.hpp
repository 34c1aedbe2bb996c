#pragma once
// A real registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 with a
// free port and its own temp storage, stopped and removed with the fixture. Images are pushed
// with skopeo from OCI layouts (image_builder.hpp), in OCI or Docker schema 2 form.
//
//   RegistryFixture reg;
//   reg.start();
//   std::string ref = reg.push(ImageBuilder().layer(LayerBuilder().file("hello", "hi")), "demo:1");
//   // ref == "127.0.0.1:PORT/demo:1"; give svcd [registries] insecure = [reg.host()]
//
// Owns the registry process (killed at destruction) and the temp dir holding its storage,
// config and logs.
#include <filesystem>
#include <memory>
#include <string>

#include "common/fs.hpp"
#include "tests/support/image_builder.hpp"
#include "tests/support/process.hpp"

namespace svc::test {

enum class PushFormat { kOci, kDockerV2S2 };

class RegistryFixture {
 public:
  RegistryFixture();
  ~RegistryFixture();
  RegistryFixture(const RegistryFixture&) = delete;
  RegistryFixture& operator=(const RegistryFixture&) = delete;

  // auth_yaml: an "auth:" section (YAML, indented under nothing) for a registry that demands
  // credentials; "" = open. Throws with the registry's log when it does not come up.
  void start(const std::string& auth_yaml = "");
  // Stops the process; storage stays, so start() again serves the same images.
  void stop();

  std::string host() const;  // "127.0.0.1:PORT"
  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::string log() const;

  // Pushes a layout's image (tag inside the layout) as name_tag ("demo:1"); all = every platform
  // of an index. Returns "127.0.0.1:PORT/<name_tag>". Throws with skopeo's output on failure.
  std::string push_layout(const std::filesystem::path& layout, const std::string& layout_tag,
                          const std::string& name_tag, PushFormat format = PushFormat::kOci,
                          bool all = false);
  // Writes image to a fresh layout under dir() and pushes it.
  std::string push(const ImageBuilder& image, const std::string& name_tag,
                   PushFormat format = PushFormat::kOci);
  // Extra skopeo flags for a registry that wants credentials (e.g. "--dest-creds=u:p").
  void set_push_credentials(std::string user_colon_password) {
    creds_ = std::move(user_colon_password);
  }

 private:
  TempDir dir_;
  std::unique_ptr<Background> proc_;
  int port_ = 0;
  int pushes_ = 0;
  std::string creds_;
};

// Runs skopeo (with --insecure-policy, so no /etc/containers/policy.json is needed).
RunResult skopeo(const std::vector<std::string>& args,
                 std::chrono::milliseconds timeout = std::chrono::seconds(120));

}  // namespace svc::test
