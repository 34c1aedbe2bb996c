#include "daemon/service_log_reader.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <thread>

#include "daemon/request_line.hpp"
#include "isolation/log_reader.hpp"

namespace svc::daemon {

namespace fs = std::filesystem;

namespace {

struct Source {
  std::string instance;  // "" for the request log
  fs::path dir;
  bool archived = false;  // reading the archive (no longer the live sandbox)
  std::unique_ptr<isolation::LogFollower> follower;
  std::size_t emitted = 0;  // lines taken from it so far (to skip when it moves)
};

api::ServiceLogLine convert(const Source& s, const isolation::LogLine& l) {
  api::ServiceLogLine out;
  out.time = l.time;
  out.partial = l.partial;
  if (s.instance.empty()) {
    out.kind = api::ServiceLogLine::Kind::kRequest;
    if (auto r = decode_request(l.text)) {
      out.instance = r->instance;
      out.text = describe_request(*r);
      out.request = std::move(*r);
    } else {
      out.text = l.text;
    }
    return out;
  }
  out.instance = s.instance;
  out.kind = l.stream == isolation::LogStream::kStderr ? api::ServiceLogLine::Kind::kStderr
                                                       : api::ServiceLogLine::Kind::kStdout;
  out.text = l.text;
  return out;
}

class Merger {
 public:
  Merger(const FileServiceLogs& files, const std::string& service, bool requests)
      : files_(files), service_(service) {
    if (requests) add("", files_.requests_dir(service_), true);
  }

  // Finds archived and live instances not followed yet.
  void discover(const std::vector<std::string>& live) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(files_.instances_dir(service_), ec)) {
      std::string id = e.path().filename().string();
      auto it = sources_.find(id);
      if (it == sources_.end()) {
        add(id, e.path(), true);
      } else if (!it->second.archived) {
        // It stopped: its files moved here. Go on from where the live one left off.
        std::size_t seen = it->second.emitted;
        add(id, e.path(), true);
        sources_[id].emitted = seen;
        skip_[id] = seen;
      }
    }
    for (const auto& id : live)
      if (!sources_.count(id)) add(id, files_.sandbox_dir(id), false);
  }

  // Every new line of every source, in time order.
  Result<std::vector<api::ServiceLogLine>> poll() {
    std::vector<api::ServiceLogLine> out;
    for (auto& [id, s] : sources_) {
      std::error_code ec;
      if (!fs::exists(s.dir, ec)) continue;
      auto lines = s.follower->poll();
      if (!lines) continue;  // a file that vanished mid-read: the next round finds it moved
      std::size_t skip = 0;
      if (auto k = skip_.find(id); k != skip_.end()) {
        skip = std::min(k->second, lines->size());
        skip_.erase(k);
      }
      for (std::size_t i = skip; i < lines->size(); ++i) out.push_back(convert(s, (*lines)[i]));
      s.emitted += lines->size() - skip;
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.time < b.time; });
    return out;
  }

 private:
  void add(const std::string& id, fs::path dir, bool archived) {
    Source s;
    s.instance = id;
    s.dir = dir;
    s.archived = archived;
    s.follower = std::make_unique<isolation::LogFollower>(dir);
    std::string key = id.empty() ? std::string("\0requests", 9) : id;
    sources_[key] = std::move(s);
  }

  const FileServiceLogs& files_;
  std::string service_;
  std::map<std::string, Source> sources_;
  std::map<std::string, std::size_t> skip_;
};

}  // namespace

Result<> read_service_logs(const FileServiceLogs& files, const std::string& service,
                           const api::ServiceLogQuery& q,
                           const std::function<std::vector<std::string>()>& live_instances,
                           const std::function<bool(const api::ServiceLogLine&)>& emit,
                           const std::function<bool()>& cancelled) {
  Merger merger(files, service, q.requests);
  merger.discover(live_instances());
  auto first = SVC_TRY(merger.poll());
  if (q.since) {
    first.erase(std::remove_if(first.begin(), first.end(),
                               [&](const auto& l) { return l.time < *q.since; }),
                first.end());
  }
  std::size_t start = 0;
  if (q.tail > 0 && first.size() > static_cast<std::size_t>(q.tail))
    start = first.size() - static_cast<std::size_t>(q.tail);
  for (std::size_t i = start; i < first.size(); ++i)
    if (!emit(first[i])) return {};
  if (!q.follow) return {};
  // Following: a round every 100 ms picks up new instances and new lines; it ends when the
  // client goes away (cancelled, or a write to it fails).
  while (!cancelled()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    merger.discover(live_instances());
    for (const auto& line : SVC_TRY(merger.poll()))
      if (!emit(line)) return {};
  }
  return {};
}

}  // namespace svc::daemon
