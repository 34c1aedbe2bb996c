#pragma once
// Flags that `svctl run` and `svctl deploy` share and must read alike: variables (--env,
// --env-file, as docker reads them) and labels. One parser, so both verbs say the same things
// about the same mistakes.
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace svc::cli {

// "KEY=VALUE" -> (KEY, VALUE). env_fallback: a bare "KEY" takes KEY's value from svctl's own
// environment, as docker's --env NAME does. flag names the flag in errors.
Result<std::pair<std::string, std::string>> split_kv(const std::string& text, std::string_view flag,
                                                     bool env_fallback);

// The variables of --env-file files (KEY=VALUE lines, # comments, blank lines) then of --env
// flags, so a flag overrides a file.
Result<std::map<std::string, std::string>> read_env(const std::vector<std::string>& env_files,
                                                    const std::vector<std::string>& env);

Result<std::map<std::string, std::string>> read_labels(const std::vector<std::string>& labels);

}  // namespace svc::cli
