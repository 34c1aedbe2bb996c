#include "scheduler/tasks/task.hpp"

#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "common/units.hpp"

namespace svc::scheduler {

std::string_view state_name(TaskState s) {
  switch (s) {
    case TaskState::kPending:
      return "PENDING";
    case TaskState::kPulling:
      return "PULLING";
    case TaskState::kStarting:
      return "STARTING";
    case TaskState::kRunning:
      return "RUNNING";
    case TaskState::kStopping:
      return "STOPPING";
    case TaskState::kStopped:
      return "STOPPED";
  }
  return "UNKNOWN";
}

bool valid_task_name(std::string_view name) {
  // As docker: [a-zA-Z0-9][a-zA-Z0-9_.-]*, and short enough for a hostname label.
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(name[0])) return false;
  for (char c : name)
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

namespace {

struct SignalName {
  const char* name;
  int number;
};
constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"BUS", SIGBUS},     {"FPE", SIGFPE},
    {"KILL", SIGKILL},     {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
    {"CONT", SIGCONT},     {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},     {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

}  // namespace

int parse_signal(std::string_view text) {
  if (text.empty()) return 0;
  if (text[0] >= '0' && text[0] <= '9') {
    int n = 0;
    for (char c : text) {
      if (c < '0' || c > '9') return 0;
      n = n * 10 + (c - '0');
      if (n > 64) return 0;
    }
    return n >= 1 ? n : 0;
  }
  std::string upper;
  for (char c : text)
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  std::string_view name = upper;
  if (name.starts_with("SIG")) name.remove_prefix(3);
  for (const auto& s : kSignals)
    if (name == s.name) return s.number;
  return 0;
}

std::string signal_name(int sig) {
  for (const auto& s : kSignals)
    if (s.number == sig) return fmt::format("SIG{}", s.name);
  return fmt::format("signal {}", sig);
}

ResourceAsk resource_ask(const TaskSpec& s) {
  ResourceAsk a;
  a.cpu_millis = s.cpu_millis;
  a.memory_bytes = s.memory_bytes;
  a.pids = s.pids;
  a.cpu_request_millis = s.cpu_request_millis;
  a.cpu_limit_millis = s.cpu_limit_millis;
  a.memory_request_bytes = s.memory_request_bytes;
  a.memory_limit_bytes = s.memory_limit_bytes;
  return a;
}

std::optional<std::string> validate_spec(const TaskSpec& spec, const ValidationLimits& limits) {
  if (!spec.name.empty() && !valid_task_name(spec.name))
    return fmt::format(
        "spec.name: \"{}\" is not a valid task name: use 1-63 letters, digits, '_', '.' or '-', "
        "starting with a letter or digit",
        has_nul(spec.name) ? std::string("(contains NUL)") : spec.name.substr(0, 80));
  if (spec.image.empty()) return "spec.image: give the image to run, e.g. alpine:3";
  if (spec.image.size() > 1024 || has_nul(spec.image)) return "spec.image: not a valid reference";
  std::size_t args_bytes = 0;
  for (const auto& a : spec.entrypoint) {
    if (has_nul(a)) return "spec.entrypoint: an argument contains a NUL byte";
    args_bytes += a.size() + 1;
  }
  for (const auto& a : spec.args) {
    if (has_nul(a)) return "spec.args: an argument contains a NUL byte";
    args_bytes += a.size() + 1;
  }
  if (args_bytes > limits.max_args_bytes)
    return fmt::format("spec.args: {} bytes of arguments, more than the limit of {}", args_bytes,
                       format_size(limits.max_args_bytes));
  std::size_t env_bytes = 0;
  for (const auto& [k, v] : spec.env) {
    if (k.empty()) return "spec.env: a variable has an empty name";
    if (k.find('=') != std::string::npos || has_nul(k))
      return fmt::format("spec.env: variable name \"{}\" contains '=' or NUL",
                         has_nul(k) ? std::string("?") : k.substr(0, 80));
    if (has_nul(v))
      return fmt::format("spec.env: the value of {} contains a NUL byte", k.substr(0, 80));
    env_bytes += k.size() + v.size() + 2;
  }
  if (env_bytes > limits.max_env_bytes)
    return fmt::format("spec.env: {} bytes of environment, more than the limit of {}", env_bytes,
                       format_size_human(limits.max_env_bytes));
  if (spec.labels.size() > limits.max_labels)
    return fmt::format("spec.labels: {} labels, more than the limit of {}", spec.labels.size(),
                       limits.max_labels);
  for (const auto& [k, v] : spec.labels) {
    if (k.empty() || k.size() > 253 || has_nul(k))
      return "spec.labels: a label key must be 1-253 characters without NUL";
    if (v.size() > 4096 || has_nul(v))
      return fmt::format("spec.labels: the value of {} is longer than 4096 or contains NUL",
                         k.substr(0, 80));
  }
  if (has_nul(spec.workdir) || (!spec.workdir.empty() && spec.workdir[0] != '/'))
    return "spec.workdir: must be an absolute path";
  if (has_nul(spec.user) || spec.user.size() > 256) return "spec.user: not a valid user";
  if (spec.cpu_millis < 0) return "spec.resources.cpuMillis: must not be negative";
  if (spec.cpu_millis > 1'000'000) return "spec.resources.cpuMillis: more than 1000 cores";
  if (spec.memory_bytes != 0 && spec.memory_bytes < limits.min_memory_bytes)
    return fmt::format("spec.resources.memoryBytes: {} is less than the minimum of {}",
                       spec.memory_bytes, format_size_human(limits.min_memory_bytes));
  if (spec.memory_bytes > (1ULL << 50)) return "spec.resources.memoryBytes: more than 1 PiB";
  if (spec.cpu_request_millis > 1'000'000 || spec.cpu_limit_millis > 1'000'000)
    return "spec.resources.cpuRequestMillis: more than 1000 cores";
  for (auto [bytes, field] : {std::pair{spec.memory_request_bytes, "memoryRequestBytes"},
                              std::pair{spec.memory_limit_bytes, "memoryLimitBytes"}}) {
    if (bytes != 0 && bytes < limits.min_memory_bytes)
      return fmt::format("spec.resources.{}: {} is less than the minimum of {}", field, bytes,
                         format_size_human(limits.min_memory_bytes));
    if (bytes > (1ULL << 50)) return fmt::format("spec.resources.{}: more than 1 PiB", field);
  }
  if (auto err = check_ask(resource_ask(spec), "spec.resources")) return err;
  if (spec.pids < 0) return "spec.resources.pids: must not be negative";
  if (spec.pids > 4'194'304) return "spec.resources.pids: more than the kernel's pid_max";
  if (spec.timeout.count() < 0) return "spec.timeout: must not be negative";
  if (spec.stop_grace.count() < 0) return "spec.stopGracePeriod: must not be negative";
  if (spec.stop_grace > std::chrono::hours(1)) return "spec.stopGracePeriod: at most 1h";
  if (!spec.stop_signal.empty() && parse_signal(spec.stop_signal) == 0)
    return fmt::format(
        "spec.stopSignal: unknown signal \"{}\"",
        has_nul(spec.stop_signal) ? std::string("?") : spec.stop_signal.substr(0, 40));
  return std::nullopt;
}

}  // namespace svc::scheduler
