#include <iostream>

#include "cli/context.hpp"
#include "common/version.hpp"

namespace svc::cli {

void add_version_command(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("version", "print svctl's version and, if reachable, svcd's");
  set_runner(cmd, [&ctx]() -> int {
    v1::NodeInfo info;
    auto call = ctx.client().context(std::chrono::seconds(5));
    auto status = ctx.client().node().Info(call.get(), v1::NodeInfoRequest(), &info);
    if (ctx.json()) {
      std::cout << "{\n  \"client\": {\"version\": \"" << svc::version() << "\", \"gitCommit\": \""
                << svc::git_commit() << "\"}";
      if (status.ok())
        std::cout << ",\n  \"server\": {\"version\": \"" << info.version()
                  << "\", \"gitCommit\": \"" << info.git_commit() << "\"}";
      std::cout << "\n}\n";
    } else {
      std::cout << "svctl " << svc::version() << " (" << svc::git_commit() << ")\n";
      if (status.ok())
        std::cout << "svcd  " << info.version() << " (" << info.git_commit() << ") at "
                  << ctx.client().address().str() << "\n";
    }
    if (!status.ok()) return ctx.report(status);
    return kExitOk;
  });
}

}  // namespace svc::cli
