#pragma once
// Fakes of the API's ports (api/server/services/*_backend.hpp) and a way to call a Dispatcher
// method as a gateway would, so the handlers are tested without a daemon, a socket or root.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/server/dispatcher.hpp"
#include "api/server/services/image_backend.hpp"
#include "api/server/services/task_backend.hpp"
#include "tests/unit/scheduler/fake_stdio.hpp"

namespace svc::api::testing {

// Runs a unary method as both gateways do (by name, a fresh response message).
template <class Resp, class Req>
Result<Resp> call(const Dispatcher& d, std::string_view method, const Req& req,
                  CallContext ctx = {}) {
  const auto* m = d.find(method);
  if (!m) return fail(Code::kInternal, "no method {}", method);
  Resp resp;
  SVC_TRY(d.call_unary(*m, req, resp, ctx));
  return resp;
}

// Collects what a streaming handler writes; stop_after > 0: the peer "goes away" after that
// many messages (write answers false).
template <class Msg>
class CollectingSink final : public StreamSink {
 public:
  explicit CollectingSink(std::size_t stop_after = 0) : stop_after_(stop_after) {}
  bool write(const google::protobuf::Message& message) override {
    Msg m;
    m.CopyFrom(message);
    messages.push_back(std::move(m));
    return stop_after_ == 0 || messages.size() < stop_after_;
  }
  std::vector<Msg> messages;

 private:
  std::size_t stop_after_;
};

template <class Msg, class Req>
Result<std::vector<Msg>> call_stream(const Dispatcher& d, std::string_view method, const Req& req,
                                     std::size_t stop_after = 0, CallContext ctx = {}) {
  const auto* m = d.find(method);
  if (!m) return fail(Code::kInternal, "no method {}", method);
  CollectingSink<Msg> sink(stop_after);
  SVC_TRY(d.call_stream(*m, req, sink, ctx));
  return std::move(sink.messages);
}

// Tasks kept in a map; records what it was asked.
class FakeTaskBackend final : public TaskBackend {
 public:
  std::map<std::string, scheduler::Task> tasks;  // by id
  std::vector<scheduler::LogLine> lines;         // every task's output
  std::vector<scheduler::TaskEvent> events_to_send;
  std::vector<scheduler::TaskSpec> ran;
  struct StopCall {
    std::string ref;
    std::optional<int> signal;
    std::optional<scheduler::Millis> grace;
  };
  std::vector<StopCall> stops;
  std::vector<std::pair<std::string, bool>> removed;
  scheduler::TaskFilter last_filter;
  scheduler::LogQuery last_query;
  std::string last_events_filter;
  std::optional<std::uint64_t> last_events_since;
  int usage_refreshes = 0;

  Result<Task> run(scheduler::TaskSpec spec) override {
    ran.push_back(spec);
    Task t;
    t.id = "t" + std::to_string(ran.size()) + "0000000000";
    t.spec = std::move(spec);
    if (t.spec.name.empty()) t.spec.name = "task-" + t.id.substr(0, 6);
    t.state = scheduler::TaskState::kPending;
    t.created_at = scheduler::TimePoint(std::chrono::seconds(1'700'000'000));
    tasks[t.id] = t;
    return t;
  }
  Result<Task> get(std::string_view ref, bool with_usage) override {
    for (const auto& [id, t] : tasks)
      if (id == ref || t.spec.name == ref || (ref.size() >= 4 && id.starts_with(ref))) {
        if (with_usage) ++usage_refreshes;
        return t;
      }
    return fail(Code::kNotFound, "no task \"{}\"", ref);
  }
  Result<std::pair<std::vector<Task>, std::string>> list(
      const scheduler::TaskFilter& filter) override {
    last_filter = filter;
    std::vector<Task> out;
    for (const auto& [id, t] : tasks) out.push_back(t);
    return std::make_pair(out, std::string("next-page"));
  }
  Result<Task> stop(std::string_view ref, std::optional<int> signal,
                    std::optional<scheduler::Millis> grace) override {
    stops.push_back({std::string(ref), signal, grace});
    return get(ref, false);
  }
  Result<> remove(std::string_view ref, bool force) override {
    removed.emplace_back(std::string(ref), force);
    SVC_TRY(get(ref, false));
    return {};
  }
  Result<Task> wait(std::string_view ref, std::chrono::steady_clock::time_point,
                    const Cancelled&) override {
    return get(ref, false);
  }
  Result<> logs(const std::string& task_id, const scheduler::LogQuery& query,
                const std::function<bool(const scheduler::LogLine&)>& emit,
                const Cancelled&) override {
    last_query = query;
    if (!tasks.count(task_id)) return fail(Code::kInternal, "logs asked for {} by name", task_id);
    for (const auto& l : lines)
      if (!emit(l)) break;
    return {};
  }
  Result<> events(const std::string& task_id, std::optional<std::uint64_t> since_seq,
                  const std::function<bool(const scheduler::TaskEvent&)>& emit,
                  const Cancelled&) override {
    last_events_filter = task_id;
    last_events_since = since_seq;
    for (const auto& e : events_to_send)
      if (!emit(e)) break;
    return {};
  }
  // Attach and exec hand out a stream over this state (fake_stdio.hpp).
  std::shared_ptr<scheduler::test::FakeStdioState> stdio =
      std::make_shared<scheduler::test::FakeStdioState>();
  std::vector<std::pair<std::string, scheduler::AttachRequest>> attached;
  std::vector<std::pair<std::string, scheduler::ExecRequest>> execs;
  Result<std::unique_ptr<scheduler::StdioStream>> attach(const std::string& task_id,
                                                         const scheduler::AttachRequest& request,
                                                         std::chrono::steady_clock::time_point,
                                                         const Cancelled&) override {
    if (!tasks.count(task_id)) return fail(Code::kInternal, "attach asked for {} by name", task_id);
    attached.emplace_back(task_id, request);
    return std::unique_ptr<scheduler::StdioStream>(
        std::make_unique<scheduler::test::FakeStdioStream>(stdio));
  }
  Result<std::unique_ptr<scheduler::StdioStream>> exec(
      const std::string& task_id, const scheduler::ExecRequest& request) override {
    if (!tasks.count(task_id)) return fail(Code::kInternal, "exec asked for {} by name", task_id);
    execs.emplace_back(task_id, request);
    return std::unique_ptr<scheduler::StdioStream>(
        std::make_unique<scheduler::test::FakeStdioStream>(stdio));
  }
};

class FakeImageBackend final : public ImageBackend {
 public:
  std::vector<ImageRecord> images;
  std::vector<PullUpdate> updates;  // sent while "pulling"
  std::optional<PlatformRecord> last_platform;
  std::vector<std::string> imported_paths;
  Result<ImageRecord> pull(std::string_view reference,
                           const std::optional<PlatformRecord>& platform, const Progress& progress,
                           const Cancelled& cancelled) override {
    last_platform = platform;
    for (const auto& u : updates) {
      if (cancelled && cancelled()) return fail(Code::kCancelled, "pull cancelled");
      if (progress) progress(u);
    }
    ImageRecord r;
    r.references = {std::string(reference)};
    r.digest = "sha256:" + std::string(64, 'a');
    images.push_back(r);
    return r;
  }
  Result<std::vector<ImageRecord>> list() override { return images; }
  Result<ImageRecord> get(std::string_view reference) override {
    for (const auto& im : images)
      for (const auto& r : im.references)
        if (r == reference) return im;
    return fail(Code::kNotFound, "no image {}", reference);
  }
  Result<RemoveImageOutcome> remove(std::string_view reference, bool force) override {
    SVC_TRY(get(reference));
    return RemoveImageOutcome{{std::string(reference)}, {force ? "forced" : "deleted"}, 42};
  }
  Result<std::vector<ImageRecord>> import(const std::filesystem::path& path, std::string_view,
                                          const Cancelled&) override {
    imported_paths.push_back(path.string());
    ImageRecord r;
    r.references = {"imported:1"};
    return std::vector<ImageRecord>{r};
  }
  Result<PruneImagesOutcome> prune(bool all) override {
    return PruneImagesOutcome{{all ? "all" : "unnamed"}, 3, 2, 1000};
  }
  // Uploads kept in memory, as the daemon's UploadStore keeps them on disk.
  std::map<std::string, std::string> uploads;
  std::vector<std::string> imported_uploads;  // the bytes each import_upload read
  Result<std::string> open_upload() override {
    std::string id = "up" + std::to_string(uploads.size() + imported_uploads.size() + 1);
    uploads[id];
    return id;
  }
  Result<std::int64_t> append_upload(std::string_view id, std::int64_t offset,
                                     std::string_view data) override {
    auto it = uploads.find(std::string(id));
    if (it == uploads.end()) return fail(Code::kNotFound, "no upload {}", id);
    if (offset != static_cast<std::int64_t>(it->second.size()))
      return fail(Code::kFailedPrecondition, "upload {}: {} bytes received", id, it->second.size());
    it->second += data;
    return static_cast<std::int64_t>(it->second.size());
  }
  Result<std::vector<ImageRecord>> import_upload(std::string_view id, std::string_view,
                                                 const Cancelled&) override {
    auto it = uploads.find(std::string(id));
    if (it == uploads.end()) return fail(Code::kNotFound, "no upload {}", id);
    imported_uploads.push_back(it->second);
    uploads.erase(it);
    ImageRecord r;
    r.references = {"uploaded:1"};
    return std::vector<ImageRecord>{r};
  }
};

}  // namespace svc::api::testing
