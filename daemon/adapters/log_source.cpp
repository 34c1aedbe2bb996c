#include "daemon/adapters/log_source.hpp"

#include <optional>
#include <thread>

#include "isolation/log_reader.hpp"

namespace svc::daemon {

namespace {
scheduler::LogLine convert(const isolation::LogLine& l) {
  scheduler::LogLine out;
  out.time = l.time;
  out.is_stderr = l.stream == isolation::LogStream::kStderr;
  out.text = l.text;
  out.partial = l.partial;
  return out;
}
}  // namespace

Result<> LogSourceAdapter::read(const std::string& task_id, const scheduler::LogQuery& query,
                                const std::function<bool(const scheduler::LogLine&)>& emit,
                                const std::function<bool()>& keep_following) {
  std::filesystem::path dir = dir_of_(task_id);
  isolation::LogQuery q;
  if (query.tail > 0) q.tail = static_cast<std::size_t>(query.tail);
  q.since = query.since;
  std::error_code ec;
  if (!query.follow) {
    if (!std::filesystem::exists(dir, ec)) return {};  // not started yet: no output so far
    for (const auto& line : SVC_TRY(isolation::read_log(dir, q)))
      if (!emit(convert(line))) return {};
    return {};
  }
  // Polls: a follower costs one stat and a read per 100 ms, only while a client follows. A task
  // still pulling its image has no sandbox dir yet: wait for it to appear.
  std::optional<isolation::LogFollower> follower;
  for (;;) {
    // keep_following is asked before the poll, so the last poll after the task stopped still
    // drains what the shim wrote before it recorded the exit.
    bool more = keep_following();
    if (!follower && std::filesystem::exists(dir / "log", ec)) follower.emplace(dir, q);
    if (follower) {
      for (const auto& line : SVC_TRY(follower->poll()))
        if (!emit(convert(line))) return {};
    }
    if (!more) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace svc::daemon
