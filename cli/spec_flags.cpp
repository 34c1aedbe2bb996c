#include "cli/spec_flags.hpp"

#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

namespace svc::cli {

Result<std::pair<std::string, std::string>> split_kv(const std::string& text, std::string_view flag,
                                                     bool env_fallback) {
  auto eq = text.find('=');
  if (eq == std::string::npos) {
    if (env_fallback) {
      const char* v = std::getenv(text.c_str());
      if (!v)
        return fail(Code::kInvalidArgument, "{} {}: not set in this environment (use NAME=VALUE)",
                    flag, text);
      return std::make_pair(text, std::string(v));
    }
    return fail(Code::kInvalidArgument, "{} {}: expected KEY=VALUE", flag, text);
  }
  if (eq == 0) return fail(Code::kInvalidArgument, "{} {}: the name is empty", flag, text);
  return std::make_pair(text.substr(0, eq), text.substr(eq + 1));
}

Result<std::map<std::string, std::string>> read_env(const std::vector<std::string>& env_files,
                                                    const std::vector<std::string>& env) {
  std::map<std::string, std::string> out;
  for (const auto& file : env_files) {
    std::ifstream in(file);
    if (!in) return fail(Code::kInvalidArgument, "--env-file {}: cannot read it", file);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto first = line.find_first_not_of(" \t");
      if (first == std::string::npos || line[first] == '#') continue;
      auto kv =
          SVC_TRY(split_kv(line.substr(first), fmt::format("--env-file {}:{}", file, n), true));
      out[kv.first] = kv.second;
    }
  }
  for (const auto& e : env) {
    auto kv = SVC_TRY(split_kv(e, "--env", true));
    out[kv.first] = kv.second;
  }
  return out;
}

Result<std::map<std::string, std::string>> read_labels(const std::vector<std::string>& labels) {
  std::map<std::string, std::string> out;
  for (const auto& l : labels) {
    auto kv = SVC_TRY(split_kv(l, "--label", false));
    out[kv.first] = kv.second;
  }
  return out;
}

}  // namespace svc::cli
