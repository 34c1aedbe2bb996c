#pragma once
// The flags that describe a task, as `svctl run` names them (--cpu, --memory, -e, --label, ...),
// shared by every verb that takes a task spec (`run`, `schedule create`): one parser and one
// mapping of svcd's field names back to flags, so both verbs say the same things about the same
// mistakes.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "common/result.hpp"
#include "svc/v1/tasks.pb.h"

namespace svc::cli {

struct TaskFlags {
  std::string name, cpu, memory, workdir, user, timeout, network = "private", stop_signal,
                                                         stop_timeout, entrypoint;
  bool entrypoint_set = false;
  std::vector<std::string> env, env_files, labels;
  bool rm = false, queue = false, interactive = false, tty = false, init = false;
  std::string image;
  std::vector<std::string> command;
};

// Adds --cpu, --memory, --env, --env-file, --label, --workdir, --user, --timeout, --network,
// --stop-signal, --stop-timeout, --entrypoint, --queue and --init to cmd, writing into *o.
// The verb adds its own (--name, -d, -i, -t, --rm) and the IMAGE and COMMAND positionals.
void add_task_spec_flags(CLI::App* cmd, const std::shared_ptr<TaskFlags>& o);

// The spec the flags describe. Errors name the flag.
Result<v1::TaskSpec> build_task_spec(const TaskFlags& o);

// svcd names what it refuses as the API spells it ("spec.resources.memoryBytes: ..."); a user of
// svctl typed a flag, so the error names the flag and the value given.
Error name_the_flag(const Error& e, const TaskFlags& o);

}  // namespace svc::cli
