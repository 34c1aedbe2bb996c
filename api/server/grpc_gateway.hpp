#pragma once
// Serves the Dispatcher over gRPC. Connections are accepted by the Listener and handed over
// by file descriptor, so gRPC and REST share one socket. Two gRPC servers: one for trusted
// connections (the unix socket: file permissions decided), one whose calls need a bearer token.
#include <functional>
#include <memory>
#include <string>

#include <atomic>
#include <thread>
#include <vector>

#include "api/server/dispatcher.hpp"

namespace grpc {
class Server;
class ServerCompletionQueue;
}  // namespace grpc

namespace svc::api {

// Checks a bearer token; returns the principal (token name) or UNAUTHENTICATED.
using Authenticator = std::function<Result<std::string>(std::string_view token)>;

class GrpcGateway {
 public:
  // Calls in flight at once per server; each holds a thread while its handler runs. One more
  // is answered RESOURCE_EXHAUSTED at once.
  struct Limits {
    std::size_t trusted_calls = 1024;  // the unix socket
    std::size_t token_calls = 64;      // TCP
  };

  GrpcGateway(const Dispatcher& dispatcher, Authenticator authenticator);
  ~GrpcGateway();
  GrpcGateway(const GrpcGateway&) = delete;
  GrpcGateway& operator=(const GrpcGateway&) = delete;

  Result<> start(Limits limits);
  // Takes ownership of fd (a connected stream socket whose first bytes are the HTTP/2 preface).
  void adopt(int fd, bool trusted);
  // Stops accepting calls; in-flight calls are cancelled after the grace period.
  void shutdown(std::chrono::milliseconds grace);

 private:
  class Service;
  Authenticator auth_;
  std::unique_ptr<Service> trusted_service_;
  std::unique_ptr<Service> token_service_;
  std::unique_ptr<grpc::Server> trusted_;
  std::unique_ptr<grpc::Server> token_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs_;
  std::vector<std::thread> pollers_;
};

}  // namespace svc::api
