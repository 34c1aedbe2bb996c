#include "cli/app.hpp"

namespace svc::cli {

void build_app(CLI::App& app, Globals& globals, Context& ctx) {
  app.require_subcommand(0, 1);
  app.fallthrough();
  app.add_option("--host,-H", globals.host,
                 "svcd address: unix:///path or tcp://HOST:PORT (env SVC_HOST)")
      ->capture_default_str();
  app.add_option("--token", globals.token, "API token for a TCP address (env SVC_TOKEN)");
  app.add_option("-o,--output", globals.output, "output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  app.footer(
      "Exit codes:\n"
      "  0    success\n"
      "  1    svcd refused or failed the request (the message says why)\n"
      "  2    bad command line\n"
      "  3    svcd could not be reached at --host\n"
      "  4    not authorised: missing, bad or revoked token, or no permission\n"
      "  5    the task, image, service or token named does not exist\n"
      "  run, wait, exec, attach: the process's own exit code; 128+N when a signal N ended it;\n"
      "  124 when its --timeout stopped it (as timeout(1)); 125 when it could not be started");

  add_version_command(app, ctx);
  add_node_commands(app, ctx);
  add_run_command(app, ctx);
  add_task_commands(app, ctx);
  add_logs_command(app, ctx);
  add_token_commands(app, ctx);
  add_image_commands(app, ctx);
  add_usage_command(app, ctx);
  add_deploy_command(app, ctx);
  add_service_commands(app, ctx);
  add_exec_commands(app, ctx);
  add_schedule_commands(app, ctx);
  // Last: only the names no command above took (the real ones replace these as they land).
  add_not_built_commands(app);
}

}  // namespace svc::cli
