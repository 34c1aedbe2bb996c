#include "isolation/shim_locator.hpp"

#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace svc::isolation {

namespace fs = std::filesystem;

fs::path find_shim() {
  if (const char* env = std::getenv("SVC_SHIM"); env && *env) return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    fs::path dir = self.parent_path();
    candidates.push_back(dir / "svc-shim");
    candidates.push_back(dir / "../shim/svc-shim");            // build tree: isolation/oci_cli
    candidates.push_back(dir / "../isolation/shim/svc-shim");  // build tree: daemon/
    candidates.push_back(dir / "../../isolation/shim/svc-shim");
    candidates.push_back(dir / "../libexec/svc/svc-shim");
  }
  candidates.push_back("/usr/libexec/svc/svc-shim");
  candidates.push_back("/usr/local/libexec/svc/svc-shim");
  for (const auto& c : candidates)
    if (::access(c.c_str(), X_OK) == 0) return fs::weakly_canonical(c, ec);
  return "/usr/libexec/svc/svc-shim";
}

}  // namespace svc::isolation
