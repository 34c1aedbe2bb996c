// TaskRuntimeAdapter: the scheduler's stdio streams over the shim's attach protocol
// (isolation/attach_client.hpp). A task's stream is a view of what its shim keeps; an exec's
// stream owns the exec: it was attached before the process started and removes it (killing it
// if it still runs) when closed.
#include <spdlog/spdlog.h>

#include "daemon/adapters/task_runtime.hpp"
#include "isolation/exit_record.hpp"

namespace svc::daemon {

namespace {

namespace sch = svc::scheduler;
namespace iso = svc::isolation;

// Owns the attachment; for an exec, also the exec's record and process (removed at close).
class ShimStream final : public sch::StdioStream {
 public:
  ShimStream(std::unique_ptr<iso::Attachment> a, iso::Runtime* runtime, std::string id,
             std::string exec_id)
      : a_(std::move(a)), runtime_(runtime), id_(std::move(id)), exec_id_(std::move(exec_id)) {}

  ~ShimStream() override {
    a_->close();
    if (runtime_ && !exec_id_.empty()) {
      if (auto r = runtime_->remove_exec(id_, exec_id_); !r)
        spdlog::warn("exec {} in task {}: remove: {}", exec_id_, id_, r.error().message());
    }
  }

  bool tty() const override { return a_->tty(); }

  Result<std::optional<sch::StdioFrame>> read(std::chrono::milliseconds timeout) override {
    auto f = SVC_TRY(a_->read(timeout));
    if (!f) return std::optional<sch::StdioFrame>();
    sch::StdioFrame out;
    switch (f->kind) {
      case iso::Attachment::Frame::Kind::kStdout:
        out.kind = sch::StdioFrame::Kind::kStdout;
        out.data = std::move(f->data);
        break;
      case iso::Attachment::Frame::Kind::kStderr:
        out.kind = sch::StdioFrame::Kind::kStderr;
        out.data = std::move(f->data);
        break;
      case iso::Attachment::Frame::Kind::kExit: {
        out.kind = sch::StdioFrame::Kind::kExit;
        auto record = iso::parse_exit_record(f->data);
        if (record && !record->shim_lost && record->exit_code >= 0)
          out.exit_code = record->exit_code;
        if (record) out.error = record->error;
        break;
      }
    }
    return std::optional<sch::StdioFrame>(std::move(out));
  }

  Result<> write_stdin(std::string_view data) override { return a_->write_stdin(data); }
  Result<> close_stdin() override { return a_->close_stdin(); }
  Result<> resize(std::uint16_t rows, std::uint16_t cols) override {
    return a_->resize(rows, cols);
  }
  void close() override { a_->close(); }

 private:
  std::unique_ptr<iso::Attachment> a_;
  iso::Runtime* runtime_;
  std::string id_;
  std::string exec_id_;
};

}  // namespace

Result<std::unique_ptr<sch::StdioStream>> TaskRuntimeAdapter::attach(
    const std::string& id, const sch::AttachRequest& request) {
  iso::AttachOptions o;
  o.stdin = request.stdin;
  auto a = SVC_TRY(runtime_.attach(id, o));
  if (request.stdin && a->tty() && request.rows && request.cols)
    SVC_TRY(a->resize(request.rows, request.cols));
  // Released only now: a held task's first output is this client's, at the client's size.
  if (request.start) SVC_TRY(release(id));
  return std::unique_ptr<sch::StdioStream>(
      std::make_unique<ShimStream>(std::move(a), nullptr, id, std::string()));
}

Result<std::unique_ptr<sch::StdioStream>> TaskRuntimeAdapter::exec(
    const std::string& id, const sch::ExecRequest& request) {
  iso::ExecSpec spec;
  spec.args = request.args;
  for (const auto& [k, v] : request.env) spec.env.push_back(k + "=" + v);
  spec.cwd = request.workdir;
  spec.user = request.user;
  spec.terminal = request.tty;
  spec.console_rows = request.rows;
  spec.console_cols = request.cols;
  spec.open_stdin = request.stdin && !request.tty;
  iso::ExecOptions options;
  options.shim = true;
  options.start = false;  // released by the attach below, so no output is missed
  iso::ExecInfo exec = SVC_TRY(runtime_.exec(id, spec, options));
  iso::AttachOptions o;
  o.exec_id = exec.id;
  o.stdin = request.stdin || request.tty;
  o.start = true;
  auto a = runtime_.attach(id, o);
  if (!a) {
    (void)runtime_.remove_exec(id, exec.id);
    return tl::unexpected(std::move(a).error());
  }
  return std::unique_ptr<sch::StdioStream>(
      std::make_unique<ShimStream>(std::move(*a), &runtime_, id, exec.id));
}

}  // namespace svc::daemon
