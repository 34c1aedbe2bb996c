#include "api/server/grpc_gateway.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <spdlog/spdlog.h>

#include "api/server/peer_credentials.hpp"
#include "api/server/status.hpp"

namespace svc::api {

namespace {

constexpr int kMaxMessageBytes = 32 * 1024 * 1024;
// TCP: streams one connection may open at once, and how long an idle connection is kept (it
// holds one of the listener's connection slots).
constexpr int kTcpStreamsPerConnection = 16;
constexpr int kTcpIdleMs = 5 * 60 * 1000;

// Calls in flight on one server, against its limit.
struct CallBudget {
  std::atomic<std::size_t> in_flight{0};
  std::size_t limit = 0;
};

std::string flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

grpc::ByteBuffer to_buffer(const google::protobuf::Message& m) {
  std::string bytes = m.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::chrono::steady_clock::time_point to_steady(std::chrono::system_clock::time_point deadline) {
  auto now = std::chrono::system_clock::now();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365))
    return std::chrono::steady_clock::time_point::max();
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - now);
}

// One call. Reads the single request message, runs the handler on its own thread (handlers may
// block: Wait, Logs with follow), writes the answer(s), finishes. A bidirectional method's
// handler starts at once and reads the client's messages from an inbox that gRPC's reads fill
// (one read in flight, at most kInbox messages waiting: a client that sends faster than the
// handler consumes is held back). Deletes itself in OnDone, after joining the worker thread.
// Counts itself in its server's budget from construction to OnDone; past the limit it answers
// RESOURCE_EXHAUSTED without starting a thread.
class CallReactor final : public grpc::ServerGenericBidiReactor,
                          public StreamSink,
                          public StreamSource {
 public:
  CallReactor(grpc::GenericCallbackServerContext* ctx, const Dispatcher& dispatcher,
              const Authenticator* authenticator, CallBudget& budget, PeerIdentity peer)
      : ctx_(ctx), dispatcher_(dispatcher), budget_(budget), peer_(std::move(peer)) {
    if (budget_.in_flight.fetch_add(1) >= budget_.limit) {
      Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          fmt::format("svcd is serving {} calls on this listener already (its "
                                      "limit); retry in a moment",
                                      budget_.limit)));
      return;
    }
    method_ = dispatcher_.find(ctx_->method());
    if (!method_) {
      Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          fmt::format("unknown method {}", ctx_->method())));
      return;
    }
    principal_ = peer_.principal.empty() ? "unix" : peer_.principal;
    if (authenticator && peer_.principal.empty()) {  // TCP without a verified certificate
      auto it = ctx_->client_metadata().find("authorization");
      std::string header;
      if (it != ctx_->client_metadata().end()) header.assign(it->second.data(), it->second.size());
      if (!header.starts_with("Bearer ")) {
        Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                            "this address needs a token: pass --token or set SVC_TOKEN "
                            "(create one with `svctl token create` on the node)"));
        return;
      }
      auto who = (*authenticator)(std::string_view(header).substr(7), peer_);
      if (!who) {
        Finish(to_grpc_status(who.error()));
        return;
      }
      principal_ = *who;
    }
    if (authenticator) {
      transport_ = CallContext::Transport::kTcp;
    } else if (!peer_.credentials) {
      // Not in the table (adopted before it was kept?): the fd gRPC names still is the
      // connection while this call runs.
      peer_.credentials = peer_credentials_of_grpc_peer(ctx_->peer());
      if (peer_.credentials) principal_ = fmt::format("uid:{}", peer_.credentials->uid);
    }
    if (method_->client_streaming) {
      reading_ = true;
      StartRead(&in_);
      worker_ = std::thread([this] { run_bidi(); });
      return;
    }
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (method_->client_streaming) {
      std::lock_guard lock(mu_);
      reading_ = false;
      if (!ok) {
        read_ended_ = true;
      } else {
        inbox_.push_back(std::move(in_));
        in_.Clear();
        if (inbox_.size() < kInbox && !finished_) {
          reading_ = true;
          StartRead(&in_);
        }
      }
      cv_.notify_all();
      return;
    }
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call carried no request"));
      return;
    }
    worker_ = std::thread([this] { run(); });
  }

  // Queues the message and returns once it is queued (or the call broke): a stream's writer
  // waits for gRPC only when kOutbox messages or kOutboxBytes are already waiting, so a fast
  // stream (200,000 log lines) is not one thread hand-off per message. A write with more behind
  // it carries gRPC's buffer hint, so they leave in few sendmsg(2) calls; the last one flushes.
  bool write(const google::protobuf::Message& message) override {
    grpc::ByteBuffer buffer = to_buffer(message);
    std::unique_lock lock(mu_);
    if (broken_) return false;
    outbox_bytes_ += buffer.Length();
    outbox_.push_back(std::move(buffer));
    if (!writing_) {
      start_next_write(lock);
      lock.lock();
    }
    cv_.wait(lock, [&] {
      return broken_ || (outbox_.size() < kOutbox && outbox_bytes_ < kOutboxBytes);
    });
    return !broken_;
  }

  Result<Status> read(google::protobuf::Message& message,
                      std::chrono::milliseconds timeout) override {
    grpc::ByteBuffer next;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, timeout, [&] { return !inbox_.empty() || read_ended_; }))
        return Status::kTimeout;
      if (inbox_.empty()) return Status::kEnd;
      next = std::move(inbox_.front());
      inbox_.pop_front();
      if (!reading_ && !read_ended_ && !finished_) {
        reading_ = true;
        StartRead(&in_);
      }
    }
    if (!message.ParseFromString(flatten(next)))
      return fail(Code::kInvalidArgument, "{}: a message is not a valid {}", method_->full_name,
                  message.GetDescriptor()->full_name());
    return Status::kMessage;
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock lock(mu_);
    if (!ok) {
      broken_ = true;
      outbox_.clear();
      outbox_bytes_ = 0;
    }
    if (!outbox_.empty()) {
      start_next_write(lock);
      lock.lock();
    } else {
      writing_ = false;
    }
    cv_.notify_all();
  }

  void OnCancel() override { cancelled_ = true; }

  void OnDone() override {
    budget_.in_flight.fetch_sub(1);
    if (worker_.joinable()) {
      if (worker_.get_id() == std::this_thread::get_id())
        worker_.detach();
      else
        worker_.join();
    }
    delete this;
  }

 private:
  CallContext call_context() {
    CallContext cc;
    cc.transport = transport_;
    cc.principal = principal_;
    cc.peer = peer_.address;
    cc.unix_peer = peer_.credentials;
    cc.deadline = to_steady(ctx_->deadline());
    cc.cancelled = [this] { return cancelled_.load() || ctx_->IsCancelled(); };
    return cc;
  }

  // Takes the outbox's first message into out_ and starts its write, outside the lock (gRPC
  // may run a reaction inline). Only the holder of writing_ touches out_.
  void start_next_write(std::unique_lock<std::mutex>& lock) {
    writing_ = true;
    out_ = std::move(outbox_.front());
    outbox_.pop_front();
    outbox_bytes_ -= out_.Length();
    grpc::WriteOptions options;
    if (!outbox_.empty()) options.set_buffer_hint();
    cv_.notify_all();
    lock.unlock();
    StartWrite(&out_, options);
  }

  // Waits until every queued message was written (or the call broke): Finish comes after them.
  void flush_writes() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return broken_ || !writing_; });
  }

  void run_bidi() {
    CallContext cc = call_context();
    auto r = dispatcher_.call_bidi(*method_, *this, *this, cc);
    flush_writes();
    {
      // No read is started after this: Finish completes the one in flight (ok = false).
      std::lock_guard lock(mu_);
      finished_ = true;
    }
    Finish(r ? grpc::Status::OK : to_grpc_status(r.error()));
  }

  void run() {
    auto request = dispatcher_.new_request(*method_);
    if (!request->ParseFromString(flatten(in_))) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          fmt::format("{}: the request is not a valid {}", method_->full_name,
                                      request->GetDescriptor()->full_name())));
      return;
    }
    CallContext cc = call_context();
    if (!method_->server_streaming) {
      auto response = dispatcher_.new_response(*method_);
      auto r = dispatcher_.call_unary(*method_, *request, *response, cc);
      if (!r) {
        Finish(to_grpc_status(r.error()));
        return;
      }
      out_ = to_buffer(*response);
      StartWriteAndFinish(&out_, grpc::WriteOptions(), grpc::Status::OK);
      return;
    }
    auto r = dispatcher_.call_stream(*method_, *request, *this, cc);
    flush_writes();
    Finish(r ? grpc::Status::OK : to_grpc_status(r.error()));
  }

  grpc::GenericCallbackServerContext* ctx_;
  const Dispatcher& dispatcher_;
  CallBudget& budget_;
  const Dispatcher::Method* method_ = nullptr;
  PeerIdentity peer_;
  CallContext::Transport transport_ = CallContext::Transport::kUnix;
  std::string principal_;
  grpc::ByteBuffer in_;
  grpc::ByteBuffer out_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool writing_ = false;
  bool broken_ = false;
  std::atomic<bool> cancelled_{false};
  // Bidirectional calls: guarded by mu_.
  static constexpr std::size_t kInbox = 16;
  std::deque<grpc::ByteBuffer> inbox_;
  // Server-streaming writes waiting behind the one in flight (out_): guarded by mu_.
  static constexpr std::size_t kOutbox = 256;
  static constexpr std::size_t kOutboxBytes = 1024 * 1024;
  std::deque<grpc::ByteBuffer> outbox_;
  std::size_t outbox_bytes_ = 0;
  bool reading_ = false;
  bool read_ended_ = false;
  bool finished_ = false;
};

}  // namespace

// gRPC names a connection added by fd "fd:<n>" (its peer string); the identity read at adopt()
// is kept under that name until another connection takes the number.
class GrpcGateway::PeerTable {
 public:
  void set(int fd, PeerIdentity id) {
    std::lock_guard lock(mu_);
    peers_[fmt::format("fd:{}", fd)] = std::move(id);
  }
  PeerIdentity get(const std::string& peer) const {
    std::lock_guard lock(mu_);
    auto it = peers_.find(peer);
    return it == peers_.end() ? PeerIdentity{} : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, PeerIdentity> peers_;
};

class GrpcGateway::Service final : public grpc::CallbackGenericService {
 public:
  Service(const Dispatcher& dispatcher, const Authenticator* authenticator, const PeerTable& peers)
      : dispatcher_(dispatcher), authenticator_(authenticator), peers_(peers) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    return new CallReactor(ctx, dispatcher_, authenticator_, budget_, peers_.get(ctx->peer()));
  }
  void set_limit(std::size_t limit) { budget_.limit = limit; }

 private:
  const Dispatcher& dispatcher_;
  const Authenticator* authenticator_;
  const PeerTable& peers_;
  CallBudget budget_;
};

GrpcGateway::GrpcGateway(const Dispatcher& dispatcher, Authenticator authenticator)
    : peers_(std::make_unique<PeerTable>()) {
  trusted_service_ = std::make_unique<Service>(dispatcher, nullptr, *peers_);
  auth_ = std::move(authenticator);
  token_service_ = std::make_unique<Service>(dispatcher, &auth_, *peers_);
}

GrpcGateway::~GrpcGateway() { shutdown(std::chrono::milliseconds(0)); }

Result<> GrpcGateway::start(Limits limits) {
  trusted_service_->set_limit(limits.trusted_calls);
  token_service_->set_limit(limits.token_calls);
  for (int i = 0; i < 2; ++i) {
    grpc::ServerBuilder builder;
    builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
    builder.SetMaxSendMessageSize(kMaxMessageBytes);
    if (i == 1) {
      builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kTcpStreamsPerConnection);
      builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, kTcpIdleMs);
    }
    builder.RegisterCallbackGenericService(i == 0 ? trusted_service_.get() : token_service_.get());
    // A server that only has callback services registers no pollset, and connections added by
    // fd (AddInsecureChannelFromFd) are then never read. A completion queue, drained by a
    // thread of ours, provides the pollset that drives them.
    auto cq = builder.AddCompletionQueue();
    auto server = builder.BuildAndStart();
    if (!server) return fail(Code::kInternal, "start the gRPC server");
    grpc::ServerCompletionQueue* raw = cq.get();
    pollers_.emplace_back([raw] {
      void* tag = nullptr;
      bool ok = false;
      while (raw->Next(&tag, &ok)) {
      }
    });
    cqs_.push_back(std::move(cq));
    (i == 0 ? trusted_ : token_) = std::move(server);
  }
  return {};
}

void GrpcGateway::adopt(int fd, bool trusted, PeerIdentity peer) {
  grpc::Server* server = trusted ? trusted_.get() : token_.get();
  if (!server) {
    ::close(fd);
    return;
  }
  // gRPC reads the fd from its pollers and needs it non-blocking: a blocking read would stall
  // a poller thread until the peer closed.
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    ::close(fd);
    return;
  }
  peers_->set(fd, std::move(peer));
  grpc::AddInsecureChannelFromFd(server, fd);
}

void GrpcGateway::shutdown(std::chrono::milliseconds grace) {
  auto deadline = std::chrono::system_clock::now() + grace;
  if (trusted_) trusted_->Shutdown(deadline);
  if (token_) token_->Shutdown(deadline);
  if (trusted_) trusted_->Wait();
  if (token_) token_->Wait();
  // The completion queues shut down after their servers (gRPC's order).
  for (auto& cq : cqs_) cq->Shutdown();
  for (auto& t : pollers_)
    if (t.joinable()) t.join();
  pollers_.clear();
  cqs_.clear();
  trusted_.reset();
  token_.reset();
}

}  // namespace svc::api
