#pragma once
// How tasks read in a terminal: short ids, ages, the status column.
#include <string>

#include <google/protobuf/timestamp.pb.h>

#include "svc/v1/tasks.pb.h"

namespace svc::cli {

std::string short_id(const std::string& id);
// "5s ago", "3m ago", "2h ago", "4d ago"; "-" for an unset time.
std::string ago(const google::protobuf::Timestamp& t);
// "2026-11-22T15:08:20Z" style, "-" when unset.
std::string when(const google::protobuf::Timestamp& t);
// "Running 2m", "Exited (3) 5s ago", "OOMKilled (137) 1m ago", "Pending: waiting for capacity".
std::string status_line(const v1::Task& t);
std::string state_name(v1::Task::State s);
std::string command_line(const v1::Task& t, std::size_t max = 30);

// What `svctl run` and `svctl wait` exit with for a stopped task: its own exit code (128+N for
// signal N); 124 when its --timeout stopped it, whatever signal ended it (as timeout(1) does);
// 125 when it never ran and has no exit code. why: set to a line for stderr when the stop needs
// explaining (a timeout, an OOM kill, a start that failed).
int task_exit_code(const v1::Task& t, std::string* why = nullptr);

}  // namespace svc::cli
