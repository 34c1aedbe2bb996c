#pragma once
// The API client svctl (and tests) use: one gRPC channel to svcd over the unix socket, TCP, or
// TCP with TLS (tcps://, optionally with a client certificate), with the bearer token added to
// every call. Errors come back as svc::Error, with a message that says where the client looked
// when svcd could not be reached.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/address.hpp"
#include "common/result.hpp"
#include "svc/v1/audit.grpc.pb.h"
#include "svc/v1/images.grpc.pb.h"
#include "svc/v1/node.grpc.pb.h"
#include "svc/v1/schedules.grpc.pb.h"
#include "svc/v1/services.grpc.pb.h"
#include "svc/v1/tasks.grpc.pb.h"
#include "svc/v1/tokens.grpc.pb.h"
#include "svc/v1/triggers.grpc.pb.h"
#include "svc/v1/usage.grpc.pb.h"

namespace svc::api {

inline constexpr const char* kDefaultHost = "unix:///run/svcd/svcd.sock";

// PEM files for a tcps:// address.
struct ClientTls {
  std::string ca;    // the CA that signed svcd's certificate; "" = the system's CAs
  std::string cert;  // a client certificate, for a svcd with [api] client_ca; with key
  std::string key;
};

class Client {
 public:
  static Result<std::unique_ptr<Client>> connect(std::string_view host, std::string token,
                                                 const ClientTls& tls = {});

  // A context for one call; timeout unset = no deadline (streams, waits).
  std::unique_ptr<grpc::ClientContext> context(
      std::optional<std::chrono::milliseconds> timeout = std::chrono::seconds(30)) const;

  v1::Node::Stub& node() { return *node_; }
  v1::Tasks::Stub& tasks() { return *tasks_; }
  v1::Images::Stub& images() { return *images_; }
  v1::Services::Stub& services() { return *services_; }
  v1::Usage::Stub& usage() { return *usage_; }
  v1::Tokens::Stub& tokens() { return *tokens_; }
  v1::Schedules::Stub& schedules() { return *schedules_; }
  v1::Triggers::Stub& triggers() { return *triggers_; }
  v1::Audit::Stub& audit() { return *audit_; }

  // grpc::Status -> svc::Error; UNAVAILABLE from a failed connect names the address and what to
  // try.
  Error error(const grpc::Status& status) const;
  const Address& address() const { return address_; }

 private:
  Address address_;
  std::string token_;
  bool tls_ = false;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Node::Stub> node_;
  std::unique_ptr<v1::Tasks::Stub> tasks_;
  std::unique_ptr<v1::Images::Stub> images_;
  std::unique_ptr<v1::Services::Stub> services_;
  std::unique_ptr<v1::Usage::Stub> usage_;
  std::unique_ptr<v1::Tokens::Stub> tokens_;
  std::unique_ptr<v1::Schedules::Stub> schedules_;
  std::unique_ptr<v1::Triggers::Stub> triggers_;
  std::unique_ptr<v1::Audit::Stub> audit_;
};

}  // namespace svc::api
