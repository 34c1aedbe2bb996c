#include "daemon/adapters/log_source.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "common/fd.hpp"
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
                                const KeepFollowing& keep_following) {
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
  // Following is event-driven: an inotify watch on the sandbox dir wakes the loop when the
  // shim appends to the log, rotates it, or renames exit.json into place. The shim drains the
  // task's output into the log before it writes exit.json, so once exit.json exists one last
  // read has everything. A task still pulling its image has no sandbox dir yet: wait for it.
  // The sandbox dir appears while the task is STARTING; the task's next state change (RUNNING,
  // or STOPPED when it failed) wakes this wait, so no time is lost polling for it.
  while (!std::filesystem::exists(dir / "state.json", ec)) {
    if (!keep_following(std::chrono::milliseconds(50))) {
      if (!std::filesystem::exists(dir / "state.json", ec)) return {};
      break;  // stopped already: read what it wrote
    }
  }
  UniqueFd watch(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!watch) return fail_errno("inotify_init1");
  if (::inotify_add_watch(watch.get(), dir.c_str(),
                          IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE_SELF) < 0)
    return fail_errno(fmt::format("watch {}", dir.string()));
  isolation::LogFollower follower(dir, q);
  for (;;) {
    bool exited = std::filesystem::exists(dir / "exit.json", ec);
    bool more = !exited && keep_following(std::chrono::milliseconds(0));
    for (const auto& line : SVC_TRY(follower.poll()))
      if (!emit(convert(line))) return {};
    if (!more) return {};
    // The timeout only bounds how long a client that went away keeps this thread.
    pollfd p{watch.get(), POLLIN, 0};
    ::poll(&p, 1, 1000);
    char buf[4096];
    while (::read(watch.get(), buf, sizeof buf) > 0) {
    }
  }
}

}  // namespace svc::daemon
