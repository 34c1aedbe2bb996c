#include "api/client/client.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace svc::api {

Result<std::unique_ptr<Client>> Client::connect(std::string_view host, std::string token) {
  auto c = std::unique_ptr<Client>(new Client());
  c->address_ = SVC_TRY_CTX(parse_address(host), "--host");
  c->token_ = std::move(token);
  std::string target;
  if (c->address_.kind == Address::Kind::kUnix) {
    target = "unix://" + c->address_.path;
  } else if (c->address_.host.find(':') != std::string::npos) {
    target = fmt::format("ipv6:[{}]:{}", c->address_.host, c->address_.port);
  } else {
    target = fmt::format("dns:///{}:{}", c->address_.host, c->address_.port);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(32 * 1024 * 1024);
  args.SetMaxSendMessageSize(32 * 1024 * 1024);
  // Fail fast when svcd is not there, instead of gRPC's reconnect back-off.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  c->channel_ = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  c->node_ = v1::Node::NewStub(c->channel_);
  c->tasks_ = v1::Tasks::NewStub(c->channel_);
  c->images_ = v1::Images::NewStub(c->channel_);
  c->services_ = v1::Services::NewStub(c->channel_);
  c->usage_ = v1::Usage::NewStub(c->channel_);
  c->tokens_ = v1::Tokens::NewStub(c->channel_);
  c->schedules_ = v1::Schedules::NewStub(c->channel_);
  c->triggers_ = v1::Triggers::NewStub(c->channel_);
  return c;
}

std::unique_ptr<grpc::ClientContext> Client::context(
    std::optional<std::chrono::milliseconds> timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (timeout) ctx->set_deadline(std::chrono::system_clock::now() + *timeout);
  // Added as plain metadata: gRPC refuses call credentials on an insecure channel, and the unix
  // socket needs none (TLS for TCP is not built yet).
  if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  return ctx;
}

Error Client::error(const grpc::Status& status) const {
  Code code = static_cast<Code>(static_cast<int>(status.error_code()));
  if (static_cast<int>(status.error_code()) > static_cast<int>(Code::kUnauthenticated))
    code = Code::kUnknown;
  if (code == Code::kUnavailable &&
      (status.error_message().find("failed to connect") != std::string::npos ||
       status.error_message().find("Connection refused") != std::string::npos ||
       status.error_message().find("No such file") != std::string::npos)) {
    std::string why = status.error_message();
    if (address_.kind == Address::Kind::kUnix) {
      struct stat st {};
      if (::stat(address_.path.c_str(), &st) != 0)
        why = fmt::format("{} does not exist", address_.path);
      else if (::access(address_.path.c_str(), R_OK | W_OK) != 0)
        // svcd may well be running: this user may not use it (exit code 4, not 3).
        return Error(Code::kPermissionDenied,
                     fmt::format("no permission to use svcd's socket {}: run as root or as a "
                                 "member of group svc (sudo usermod -aG svc $USER, then log in "
                                 "again)",
                                 address_.path));
      else
        why =
            fmt::format("nothing answers on {} (svcd stopped without removing it?)", address_.path);
    }
    return Error(Code::kUnavailable,
                 fmt::format("cannot reach svcd at {}: {}. Is svcd running? Start it (`svcd` as "
                             "root, or `systemctl start svcd`), or point --host / SVC_HOST at it",
                             address_.str(), why));
  }
  if (code == Code::kUnauthenticated && token_.empty()) return Error(code, status.error_message());
  return Error(code, status.error_message());
}

}  // namespace svc::api
