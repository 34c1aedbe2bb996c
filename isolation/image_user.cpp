#include "isolation/image_user.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <optional>
#include <sstream>

#include "common/fd.hpp"
#include "common/syscall.hpp"

namespace svc::isolation {

namespace fs = std::filesystem;

namespace {

// The file's text from the topmost layer that has it; nullopt when no layer has it or the top
// one deleted it (an overlayfs whiteout: a 0/0 character device).
std::optional<std::string> read_from_layers(const std::vector<fs::path>& layers, const char* path) {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    UniqueFd root(::open(it->c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) continue;
    int rc = sys::openat2(root.get(), path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                          RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (rc == -ENOENT) continue;
    if (rc < 0) return std::nullopt;
    UniqueFd fd(rc);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return std::nullopt;
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) return std::nullopt;  // whiteout
    if (!S_ISREG(st.st_mode) || st.st_size > (4 << 20)) return std::nullopt;
    std::string out(static_cast<std::size_t>(st.st_size), '\0');
    ssize_t n = ::pread(fd.get(), out.data(), out.size(), 0);
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n));
    return out;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> number(std::string_view s) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Lines of a colon-separated database, split into fields.
std::vector<std::vector<std::string>> records(const std::optional<std::string>& text) {
  std::vector<std::vector<std::string>> out;
  if (!text) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    std::size_t pos = 0;
    for (;;) {
      auto c = line.find(':', pos);
      f.push_back(line.substr(pos, c == std::string::npos ? std::string::npos : c - pos));
      if (c == std::string::npos) break;
      pos = c + 1;
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace

Result<ImageUser> resolve_image_user(const std::vector<fs::path>& layers, std::string_view user) {
  ImageUser out;
  if (user.empty()) return out;
  auto colon = user.find(':');
  std::string_view name = user.substr(0, colon);
  std::optional<std::string_view> group;
  if (colon != std::string_view::npos) group = user.substr(colon + 1);
  auto passwd = records(read_from_layers(layers, "/etc/passwd"));
  auto groups = records(read_from_layers(layers, "/etc/group"));

  std::string user_name;
  bool found = false;
  if (auto uid = number(name)) {
    out.uid = *uid;
    for (const auto& r : passwd)
      if (r.size() >= 4 && number(r[2]) == uid) {
        out.gid = number(r[3]).value_or(0);
        user_name = r[0];
        break;
      }
    found = true;
  } else {
    for (const auto& r : passwd)
      if (r.size() >= 4 && r[0] == name) {
        auto uid2 = number(r[2]);
        auto gid2 = number(r[3]);
        if (!uid2 || !gid2) break;
        out.uid = *uid2;
        out.gid = *gid2;
        user_name = r[0];
        found = true;
        break;
      }
  }
  if (!found) return fail(Code::kNotFound, "user \"{}\" is not in the image's /etc/passwd", name);
  if (group) {
    if (auto gid = number(*group)) {
      out.gid = *gid;
    } else {
      bool g = false;
      for (const auto& r : groups)
        if (r.size() >= 3 && r[0] == *group) {
          if (auto v = number(r[2])) {
            out.gid = *v;
            g = true;
          }
          break;
        }
      if (!g) return fail(Code::kNotFound, "group \"{}\" is not in the image's /etc/group", *group);
    }
  }
  // Supplementary groups: every group whose member list names the user (Docker's behaviour).
  if (!user_name.empty())
    for (const auto& r : groups) {
      if (r.size() < 4 || r[3].empty()) continue;
      std::istringstream members(r[3]);
      std::string m;
      while (std::getline(members, m, ','))
        if (m == user_name)
          if (auto v = number(r[2]); v && *v != out.gid) out.additional_gids.push_back(*v);
    }
  return out;
}

}  // namespace svc::isolation
