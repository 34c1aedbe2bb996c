#pragma once
// What every svctl command shares: the global flags, the connection, and the exit codes.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "api/client/client.hpp"
#include "cli/output.hpp"

namespace svc::cli {

// Exit codes, documented in `svctl --help`.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;        // svcd answered with an error
inline constexpr int kExitUsage = 2;         // bad command line
inline constexpr int kExitUnreachable = 3;   // svcd could not be reached
inline constexpr int kExitUnauthorized = 4;  // missing or bad token
inline constexpr int kExitNotFound = 5;      // what was named does not exist
inline constexpr int kExitTimedOut = 124;    // `run`, `wait`: --timeout stopped the task
inline constexpr int kExitRunFailed = 125;   // `run`: the task could not be run

struct Globals {
  std::string host;
  std::string token;
  std::string output = "table";
  OutputFormat format() const {
    return output == "json" ? OutputFormat::kJson : OutputFormat::kTable;
  }
};

class Context {
 public:
  explicit Context(Globals& globals) : globals_(globals) {}
  // Connects lazily; the error path prints and returns the exit code.
  api::Client& client();
  const Globals& globals() const { return globals_; }
  bool json() const { return globals_.format() == OutputFormat::kJson; }

  // Prints "svctl: <message>" to stderr and returns the exit code that fits the error.
  int report(const Error& error) const;
  int report(const grpc::Status& status);

 private:
  Globals& globals_;
  std::unique_ptr<api::Client> client_;
};

// Pulls with progress drawn on out (bars in place when tty, a line per change otherwise);
// image receives the pulled image. Used by `svctl pull` and by `svctl run` for a missing image.
grpc::Status pull_image(Context& ctx, const v1::PullImageRequest& req, std::ostream& out, bool tty,
                        bool quiet, v1::Image* image);

// Each verb adds its subcommand; the callback's return value becomes svctl's exit code.
using Runner = std::function<int()>;
void set_runner(CLI::App* app, Runner runner);

void add_version_command(CLI::App& app, Context& ctx);
void add_node_commands(CLI::App& app, Context& ctx);
void add_token_commands(CLI::App& app, Context& ctx);
void add_run_command(CLI::App& app, Context& ctx);
void add_task_commands(CLI::App& app, Context& ctx);
void add_logs_command(CLI::App& app, Context& ctx);
void add_image_commands(CLI::App& app, Context& ctx);
void add_usage_command(CLI::App& app, Context& ctx);
void add_deploy_command(CLI::App& app, Context& ctx);
void add_service_commands(CLI::App& app, Context& ctx);
void add_exec_commands(CLI::App& app, Context& ctx);  // exec, attach
void add_schedule_commands(CLI::App& app, Context& ctx);
// The commands of features not built yet (not_built.cpp): they say so. Add them last.
void add_not_built_commands(CLI::App& app);

}  // namespace svc::cli
