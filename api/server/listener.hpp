#pragma once
// ApiServer: the daemon's API endpoints. One unix socket (<run_dir>/svcd.sock, mode 0660, group
// "svc" when it exists; whoever can open it is trusted) and, when configured, one TCP address
// whose calls need a bearer token. Each accepted connection is sniffed: the HTTP/2 preface goes
// to gRPC, anything else is HTTP/1.1 REST. So `svctl` (gRPC) and `curl --unix-socket` (REST)
// share one socket.
//
// Owns the listening sockets, one accept thread per socket and one thread per REST connection;
// stop() closes them all and joins every thread.
//
// Bounded: each listener holds at most max_*_connections connections at once (REST threads,
// connections still being sniffed, and the gRPC connections it handed over, which it follows
// by fd until gRPC closes them); one more is accepted and closed at once, so a flood costs a
// file descriptor for a moment, not a thread. gRPC calls in flight are capped per listener by
// the gateway (RESOURCE_EXHAUSTED past it). The TCP listener binds loopback addresses only:
// without TLS, a token and every call would cross the network in clear text.
#include <atomic>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "api/server/dispatcher.hpp"
#include "api/server/grpc_gateway.hpp"
#include "api/server/rest_gateway.hpp"
#include "common/address.hpp"
#include "common/fd.hpp"

namespace svc::api {

class ApiServer {
 public:
  struct Options {
    std::filesystem::path unix_socket;
    std::optional<Address> tcp;
    std::string socket_group = "svc";
    // The unix socket serves the node's own users (many `svctl logs -f` and `wait` at once);
    // TCP serves remote clients, each of which costs a thread per REST connection or call.
    std::size_t max_unix_connections = 1024;
    std::size_t max_tcp_connections = 64;
    GrpcGateway::Limits calls;
  };

  ApiServer(const Dispatcher& dispatcher, Authenticator authenticator, MetricsFn metrics);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds every endpoint or none. A socket path held by a live svcd is refused; a stale one is
  // replaced; a path that is not a socket is refused (never deleted).
  Result<> start(const Options& options);
  // The bound TCP port (useful with port 0).
  std::optional<std::uint16_t> tcp_port() const { return tcp_port_; }
  void stop(std::chrono::milliseconds grace);

 private:
  struct Connection {
    int fd = -1;
    bool trusted = false;
    std::thread thread;
    std::atomic<bool> done{false};
  };
  // A connection gRPC owns now, followed by its fd number and the socket's identity (st_dev,
  // st_ino): once the number no longer names that socket, gRPC has closed it.
  struct Handed {
    int fd = -1;
    bool trusted = false;
    std::uint64_t dev = 0, ino = 0;
  };
  void accept_loop(int listen_fd, bool trusted);
  void handle(Connection* conn, bool trusted);
  void reap_locked();
  std::size_t open_connections_locked(bool trusted);

  const Dispatcher& dispatcher_;
  GrpcGateway grpc_;
  RestGateway rest_;
  std::filesystem::path socket_path_;
  UniqueFd unix_fd_;
  UniqueFd tcp_fd_;
  UniqueFd wake_fd_;  // eventfd that wakes the accept loops at stop()
  std::optional<std::uint16_t> tcp_port_;
  std::vector<std::thread> acceptors_;
  std::mutex mu_;
  std::list<Connection> connections_;
  std::vector<Handed> handed_;
  std::size_t max_connections_[2] = {0, 0};  // [trusted]
  std::chrono::steady_clock::time_point last_refusal_log_{};
  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

}  // namespace svc::api
