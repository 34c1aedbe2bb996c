#include "images/platform.hpp"

#include <sys/utsname.h>

namespace svc::images {

namespace {

std::string arch_alias(std::string_view a) {
  if (a == "x86_64" || a == "x86-64" || a == "amd64") return "amd64";
  if (a == "aarch64" || a == "arm64") return "arm64";
  if (a == "armhf" || a == "armel" || a == "armv7l" || a == "armv6l" || a == "arm") return "arm";
  if (a == "i386" || a == "i686" || a == "386") return "386";
  return std::string(a);
}

std::string variant_from_machine(std::string_view machine) {
  if (machine == "armv7l" || machine == "armhf") return "v7";
  if (machine == "armv6l" || machine == "armel") return "v6";
  return "";
}

}  // namespace

std::string Platform::str() const {
  std::string s = os + "/" + architecture;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Platform normalize(Platform p) {
  std::string machine = p.architecture;
  p.architecture = arch_alias(p.architecture);
  if (p.variant.empty()) p.variant = variant_from_machine(machine);
  if (p.architecture == "arm64" && p.variant.empty()) p.variant = "v8";
  if (p.architecture == "arm" && p.variant.empty()) p.variant = "v7";
  if (p.os.empty()) p.os = "linux";
  return p;
}

Result<Platform> parse_platform(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  for (const auto& p : parts)
    if (p.empty() || p.find_first_of(" \t") != std::string::npos)
      return fail(Code::kInvalidArgument,
                  "invalid platform \"{}\": expected os/architecture[/variant], such as "
                  "linux/amd64 or linux/arm64/v8",
                  text);
  Platform p;
  if (parts.size() == 1) {
    p.os = "linux";
    p.architecture = parts[0];
  } else if (parts.size() <= 3) {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  } else {
    return fail(Code::kInvalidArgument,
                "invalid platform \"{}\": expected os/architecture[/variant]", text);
  }
  return normalize(std::move(p));
}

Platform host_platform() {
  utsname u{};
  ::uname(&u);
  Platform p;
  p.os = "linux";
  p.architecture = u.machine;
  return normalize(std::move(p));
}

bool platform_matches(const Platform& want_raw, const Platform& have_raw) {
  Platform want = normalize(want_raw);
  Platform have = normalize(have_raw);
  if (want.os != have.os || want.architecture != have.architecture) return false;
  if (have_raw.variant.empty() || want_raw.variant.empty()) return true;
  if (want.variant == have.variant) return true;
  // An armv7 node runs v6 and v5 images (containerd's arm matcher does the same).
  if (want.architecture == "arm") return have.variant < want.variant;
  return false;
}

std::optional<std::size_t> choose_platform(const Platform& want,
                                           const std::vector<std::optional<Platform>>& candidates) {
  std::optional<std::size_t> best;
  int best_score = -1;
  Platform w = normalize(want);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (!candidates[i] || !platform_matches(want, *candidates[i])) continue;
    Platform h = normalize(*candidates[i]);
    int score = 1;
    if (h.variant == w.variant)
      score = 3;
    else if (candidates[i]->variant.empty())
      score = 2;
    if (score > best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

}  // namespace svc::images
