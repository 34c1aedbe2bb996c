#include "isolation/shim_locator.hpp"

#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace svc::isolation {

namespace fs = std::filesystem;

namespace {

fs::path find_helper(const char* env_name, const char* name, const char* build_dir) {
  if (const char* env = std::getenv(env_name); env && *env) return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    fs::path dir = self.parent_path();
    candidates.push_back(dir / name);
    candidates.push_back(dir / ".." / build_dir / name);            // build tree: isolation/oci_cli
    candidates.push_back(dir / "../isolation" / build_dir / name);  // build tree: daemon/
    candidates.push_back(dir / "../../isolation" / build_dir / name);
    candidates.push_back(dir / "../libexec/svc" / name);
  }
  candidates.push_back(fs::path("/usr/libexec/svc") / name);
  candidates.push_back(fs::path("/usr/local/libexec/svc") / name);
  for (const auto& c : candidates)
    if (::access(c.c_str(), X_OK) == 0) return fs::weakly_canonical(c, ec);
  return fs::path("/usr/libexec/svc") / name;
}

}  // namespace

fs::path find_shim() { return find_helper("SVC_SHIM", "svc-shim", "shim"); }
fs::path find_init() { return find_helper("SVC_INIT", "svc-init", "init"); }

}  // namespace svc::isolation
