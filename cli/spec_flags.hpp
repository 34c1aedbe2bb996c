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
#include "common/units.hpp"

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

// What `svctl run` and `svctl deploy` both say about the process, written into a TaskSpec or a
// ServiceSpec (the same field names in both): --entrypoint ("" clears the image's), COMMAND (a
// leading "--" only separates it), variables, labels, --workdir, --user, --cpu and --memory.
template <typename Flags, typename Spec>
Result<> fill_process_spec(const Flags& o, Spec& s) {
  if (o.entrypoint_set) {
    if (o.entrypoint.empty())
      s.set_reset_entrypoint(true);
    else
      s.add_entrypoint(o.entrypoint);
  }
  std::size_t skip = !o.command.empty() && o.command.front() == "--" ? 1 : 0;
  for (std::size_t i = skip; i < o.command.size(); ++i) s.add_args(o.command[i]);
  auto env = SVC_TRY(read_env(o.env_files, o.env));
  for (const auto& [k, v] : env) (*s.mutable_env())[k] = v;
  auto labels = SVC_TRY(read_labels(o.labels));
  for (const auto& [k, v] : labels) (*s.mutable_labels())[k] = v;
  s.set_workdir(o.workdir);
  s.set_user(o.user);
  if (!o.cpu.empty())
    s.mutable_resources()->set_cpu_millis(SVC_TRY_CTX(parse_cpu_millis(o.cpu), "--cpu"));
  if (!o.memory.empty())
    s.mutable_resources()->set_memory_bytes(
        static_cast<std::int64_t>(SVC_TRY_CTX(parse_size(o.memory), "--memory")));
  return {};
}

}  // namespace svc::cli
