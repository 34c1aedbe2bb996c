#pragma once
// Logging set-up on spdlog. Modules log through spdlog's default logger (spdlog::info(...)).
#include <string_view>

#include "common/result.hpp"

namespace svc {

enum class LogFormat {
  kAuto,     // journal when stderr is connected to journald (JOURNAL_STREAM), else text
  kText,     // "2026-11-22T15:08:20.123Z info  message" to stderr
  kJournal,  // "<6>message": sd-daemon priority prefixes, no timestamp (journald adds its own)
};

Result<> validate_log_level(std::string_view level);
// level: trace, debug, info, warn, error, off.
Result<> setup_logging(std::string_view level, LogFormat format = LogFormat::kAuto);

// True when stderr is the stream named in $JOURNAL_STREAM (systemd.exec(5)).
bool stderr_is_journal();

}  // namespace svc
