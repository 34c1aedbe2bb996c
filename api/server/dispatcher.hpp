#pragma once
// The table of API methods that both gateways (gRPC and REST) serve. A handler is registered
// once, by full method name ("svc.v1.Node/Info"); every method declared in the protos that has
// no handler answers UNIMPLEMENTED with its name. This keeps gRPC and REST from drifting apart:
// there is no second implementation to forget.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "common/metrics.hpp"
#include "common/result.hpp"

namespace svc::api {

// Who is on the other end of a unix socket, as the kernel saw it at connect (SO_PEERCRED).
struct PeerCredentials {
  std::int32_t pid = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

// What a handler knows about the call it serves.
struct CallContext {
  enum class Transport { kUnix, kTcp, kInProcess };
  Transport transport = Transport::kInProcess;
  std::string principal;  // "unix" for the socket, the token's name for TCP
  // The caller's credentials on the unix socket; unset on TCP (and when the kernel would not
  // say). A handler that acts with svcd's own rights on the caller's behalf (reading a path on
  // the node) checks them.
  std::optional<PeerCredentials> unix_peer;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // True once the client went away or the server is shutting down: long handlers poll it.
  std::function<bool()> cancelled = [] { return false; };
};

// Where a server-streaming handler writes its messages; write() is false once the peer is gone.
//
// A stream is answered "ok" only once the handler accepted the call: at begin() or at the first
// write(), whichever comes first. An error returned before that is the call's status (REST: a
// 404 for an unknown task, not a 200 whose body carries the error). So a handler checks its
// request (resolves the id, validates) before it writes, and calls begin() when it may wait a
// long time before its first message (a follow with no output yet).
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool write(const google::protobuf::Message& message) = 0;
  virtual void begin() {}
};

template <class T>
class TypedSink {
 public:
  explicit TypedSink(StreamSink& sink) : sink_(sink) {}
  bool write(const T& message) { return sink_.write(message); }
  void begin() { sink_.begin(); }

 private:
  StreamSink& sink_;
};

// Where a bidirectional-streaming handler reads the client's messages (the first one too).
// read() waits at most timeout: kTimeout lets a reader look at its own stop flag.
class StreamSource {
 public:
  enum class Status { kMessage, kEnd, kTimeout };
  virtual ~StreamSource() = default;
  // kEnd once the client has sent its last message (or went away). INVALID_ARGUMENT for a
  // message that does not parse.
  virtual Result<Status> read(google::protobuf::Message& message,
                              std::chrono::milliseconds timeout) = 0;
};

template <class T>
class TypedSource {
 public:
  explicit TypedSource(StreamSource& source) : source_(source) {}
  Result<StreamSource::Status> read(T& message, std::chrono::milliseconds timeout) {
    return source_.read(message, timeout);
  }

 private:
  StreamSource& source_;
};

class Dispatcher {
 public:
  using Message = google::protobuf::Message;
  using UnaryFn = std::function<Result<>(const Message&, Message&, CallContext&)>;
  using StreamFn = std::function<Result<>(const Message&, StreamSink&, CallContext&)>;
  using BidiFn = std::function<Result<>(StreamSource&, StreamSink&, CallContext&)>;

  struct Method {
    std::string full_name;  // "svc.v1.Node/Info"
    const google::protobuf::MethodDescriptor* descriptor = nullptr;
    const Message* request_prototype = nullptr;
    const Message* response_prototype = nullptr;
    bool server_streaming = false;
    bool client_streaming = false;  // then server-streaming too: svc has no client-only streams
    UnaryFn unary;
    StreamFn stream;
    BidiFn bidi;
  };

  // Loads every method of every service in svc/v1.
  Dispatcher();

  template <class Req, class Resp>
  void unary(std::string_view full_name,
             std::function<Result<>(const Req&, Resp&, CallContext&)> fn) {
    set_unary(full_name, [fn = std::move(fn)](const Message& req, Message& resp, CallContext& ctx) {
      return fn(static_cast<const Req&>(req), static_cast<Resp&>(resp), ctx);
    });
  }

  template <class Req, class Resp>
  void server_stream(std::string_view full_name,
                     std::function<Result<>(const Req&, TypedSink<Resp>&, CallContext&)> fn) {
    set_stream(full_name,
               [fn = std::move(fn)](const Message& req, StreamSink& sink, CallContext& ctx) {
                 TypedSink<Resp> typed(sink);
                 return fn(static_cast<const Req&>(req), typed, ctx);
               });
  }

  template <class Req, class Resp>
  void bidi_stream(std::string_view full_name,
                   std::function<Result<>(TypedSource<Req>&, TypedSink<Resp>&, CallContext&)> fn) {
    set_bidi(full_name,
             [fn = std::move(fn)](StreamSource& source, StreamSink& sink, CallContext& ctx) {
               TypedSource<Req> in(source);
               TypedSink<Resp> out(sink);
               return fn(in, out, ctx);
             });
  }

  // By "svc.v1.Node/Info" or the gRPC path "/svc.v1.Node/Info".
  const Method* find(std::string_view name) const;
  const std::vector<std::string>& method_names() const { return names_; }

  std::unique_ptr<Message> new_request(const Method& m) const;
  std::unique_ptr<Message> new_response(const Method& m) const;

  // Runs a unary method (UNIMPLEMENTED when it has no handler). Exceptions from handlers become
  // INTERNAL errors, so one bad handler cannot take the daemon down.
  Result<> call_unary(const Method& m, const Message& req, Message& resp, CallContext& ctx) const;
  Result<> call_stream(const Method& m, const Message& req, StreamSink& sink,
                       CallContext& ctx) const;
  Result<> call_bidi(const Method& m, StreamSource& source, StreamSink& sink,
                     CallContext& ctx) const;

  // Counts every call by method and code (svc_api_requests_total) and times it
  // (svc_api_request_duration_seconds; a stream's whole life). Set before serving.
  void set_metrics(metrics::Registry& registry);

 private:
  void set_unary(std::string_view full_name, UnaryFn fn);
  void set_stream(std::string_view full_name, StreamFn fn);
  void set_bidi(std::string_view full_name, BidiFn fn);
  Method& must_find(std::string_view full_name, bool streaming, bool client_streaming = false);
  void observe(const Method& m, const Result<>& result,
               std::chrono::steady_clock::time_point started) const;

  std::map<std::string, Method, std::less<>> methods_;
  std::vector<std::string> names_;
  metrics::Family<metrics::Counter>* calls_ = nullptr;
  metrics::Family<metrics::Histogram>* durations_ = nullptr;
};

}  // namespace svc::api
