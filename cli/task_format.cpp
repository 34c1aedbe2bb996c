#include "cli/task_format.hpp"

#include <chrono>

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

namespace svc::cli {

using google::protobuf::util::TimeUtil;

std::string short_id(const std::string& id) { return id.substr(0, 12); }

namespace {
bool unset(const google::protobuf::Timestamp& t) { return t.seconds() == 0 && t.nanos() == 0; }

std::string span(std::int64_t secs) {
  if (secs < 0) secs = 0;
  if (secs < 60) return fmt::format("{}s", secs);
  if (secs < 3600) return fmt::format("{}m", secs / 60);
  if (secs < 86400) return fmt::format("{}h", secs / 3600);
  return fmt::format("{}d", secs / 86400);
}

std::int64_t age_seconds(const google::protobuf::Timestamp& t) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  return now - t.seconds();
}
}  // namespace

std::string ago(const google::protobuf::Timestamp& t) {
  if (unset(t)) return "-";
  return span(age_seconds(t)) + " ago";
}

std::string when(const google::protobuf::Timestamp& t) {
  if (unset(t)) return "-";
  return TimeUtil::ToString(t);
}

std::string state_name(v1::Task::State s) {
  std::string n = v1::Task::State_Name(s);
  return n;
}

std::string status_line(const v1::Task& t) {
  switch (t.state()) {
    case v1::Task::PENDING:
      return t.queued_reason().empty() ? "Pending" : "Queued for capacity";
    case v1::Task::PULLING:
      return "Pulling image";
    case v1::Task::STARTING:
      return "Starting";
    case v1::Task::RUNNING:
      return "Running " + span(age_seconds(t.running_at()));
    case v1::Task::STOPPING:
      return "Stopping";
    case v1::Task::STOPPED: {
      std::string reason = t.stop_reason().empty() ? "Stopped" : t.stop_reason();
      if (t.has_exit_code())
        return fmt::format("{} ({}) {}", reason, t.exit_code(), ago(t.stopped_at()));
      return fmt::format("{} {}", reason, ago(t.stopped_at()));
    }
    default:
      return "Unknown";
  }
}

std::string command_line(const v1::Task& t, std::size_t max) {
  std::string cmd;
  for (const auto& a : t.spec().entrypoint()) cmd += (cmd.empty() ? "" : " ") + a;
  for (const auto& a : t.spec().args()) cmd += (cmd.empty() ? "" : " ") + a;
  if (cmd.size() > max) cmd = cmd.substr(0, max - 3) + "...";
  return cmd.empty() ? "(image default)" : cmd;
}

int task_exit_code(const v1::Task& t, std::string* why) {
  const std::string& reason = t.stop_reason();
  std::string line = fmt::format("task {}: {}: {}", t.name(), reason, t.stop_message());
  if (reason == "TimedOut") {
    if (why) *why = line;
    return 124;  // kExitTimedOut: timeout(1)'s code, so scripts tell a timeout from a failure
  }
  if (reason == "ImagePullFailed" || reason == "StartFailed" || !t.has_exit_code()) {
    if (why) *why = line;
    // A program that could not be executed has 127, as in a shell; otherwise 125.
    return t.has_exit_code() ? t.exit_code() : 125;
  }
  if (why && reason == "OOMKilled") *why = line;
  return t.exit_code();
}

}  // namespace svc::cli
