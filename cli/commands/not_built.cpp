// The commands of features this version of svc does not have yet (triggers are being
// built). They are listed in `svctl --help` under their own heading
// and, when run, say plainly that the feature is not built in, instead of being absent (CLI11's
// "arguments were not expected") or pretending. Each is added only when no real command of that
// name was registered before, so the real one replaces it by being added earlier in main.cpp.
#include <iostream>

#include <fmt/format.h>

#include "cli/context.hpp"
#include "common/version.hpp"

namespace svc::cli {

namespace {

struct NotBuilt {
  const char* name;
  const char* what;     // the help line
  const char* feature;  // "this version does not have <feature> yet"
};

constexpr NotBuilt kNotBuilt[] = {
    {"trigger", "run tasks and services when events arrive", "triggers"},
};

}  // namespace

void add_not_built_commands(CLI::App& app) {
  for (const NotBuilt& nb : kNotBuilt) {
    if (app.get_subcommands([&](const CLI::App* s) { return s->check_name(nb.name); }).size())
      continue;
    auto* cmd = app.add_subcommand(nb.name, nb.what);
    cmd->group("Not built in this version");
    cmd->footer(fmt::format("Not built in this version of svc ({}): {} are being built.",
                            svc::version(), nb.feature));
    // Whatever follows is accepted, so `svctl trigger create thumbs --on-file /srv/in` reaches the
    // message.
    // fallthrough off: svctl's own fallthrough would hand `--port` up to svctl, which refuses it.
    cmd->fallthrough(false);
    cmd->prefix_command();
    cmd->allow_extras();
    std::string name = nb.name, feature = nb.feature;
    set_runner(cmd, [name, feature]() -> int {
      std::cerr << "svctl " << name << ": this version of svc (" << svc::version()
                << ") does not have " << feature
                << " yet, so nothing was done. It runs tasks: `svctl --help` lists what works.\n";
      return kExitFailed;
    });
  }
}

}  // namespace svc::cli
