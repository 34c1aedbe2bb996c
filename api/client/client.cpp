#include "api/client/client.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "common/fs.hpp"

namespace svc::api {

namespace {

Result<std::string> read_pem(const std::string& flag, const std::string& path) {
  if (path.empty()) return std::string();
  auto text = read_file(path);
  if (!text) return tl::unexpected(std::move(text).error().context(flag));
  if (text->find("-----BEGIN ") == std::string::npos)
    return fail(Code::kInvalidArgument, "{} {}: not a PEM file (no -----BEGIN line)", flag, path);
  return text;
}

}  // namespace

Result<std::unique_ptr<Client>> Client::connect(std::string_view host, std::string token,
                                                const ClientTls& tls) {
  auto c = std::unique_ptr<Client>(new Client());
  c->address_ = SVC_TRY_CTX(parse_address(host), "--host");
  c->token_ = std::move(token);
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (c->address_.tls) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = SVC_TRY(read_pem("--ca", tls.ca));
    o.pem_cert_chain = SVC_TRY(read_pem("--cert", tls.cert));
    o.pem_private_key = SVC_TRY(read_pem("--key", tls.key));
    if (o.pem_cert_chain.empty() != o.pem_private_key.empty())
      return fail(Code::kInvalidArgument,
                  "--cert and --key go together: a client certificate and its private key");
    creds = grpc::SslCredentials(o);
    c->tls_ = true;
  } else if (!tls.ca.empty() || !tls.cert.empty() || !tls.key.empty()) {
    return fail(Code::kInvalidArgument,
                "--ca, --cert and --key are for TLS: write the address as tcps://{}:{}",
                c->address_.kind == Address::Kind::kTcp ? c->address_.host : "HOST",
                c->address_.kind == Address::Kind::kTcp ? c->address_.port : 7070);
  }
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
  c->channel_ = grpc::CreateCustomChannel(target, creds, args);
  c->node_ = v1::Node::NewStub(c->channel_);
  c->tasks_ = v1::Tasks::NewStub(c->channel_);
  c->images_ = v1::Images::NewStub(c->channel_);
  c->services_ = v1::Services::NewStub(c->channel_);
  c->usage_ = v1::Usage::NewStub(c->channel_);
  c->tokens_ = v1::Tokens::NewStub(c->channel_);
  c->schedules_ = v1::Schedules::NewStub(c->channel_);
  c->triggers_ = v1::Triggers::NewStub(c->channel_);
  c->audit_ = v1::Audit::NewStub(c->channel_);
  return c;
}

std::unique_ptr<grpc::ClientContext> Client::context(
    std::optional<std::chrono::milliseconds> timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (timeout) ctx->set_deadline(std::chrono::system_clock::now() + *timeout);
  // Added as plain metadata, the same on every transport: gRPC refuses call credentials on an
  // insecure channel (tcp:// on loopback), and the unix socket ignores it.
  if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  return ctx;
}

Error Client::error(const grpc::Status& status) const {
  Code code = static_cast<Code>(static_cast<int>(status.error_code()));
  if (static_cast<int>(status.error_code()) > static_cast<int>(Code::kUnauthenticated))
    code = Code::kUnknown;
  const std::string& msg = status.error_message();
  if (code == Code::kUnavailable && tls_ &&
      (msg.find("Ssl handshake failed") != std::string::npos ||
       msg.find("CERTIFICATE_VERIFY_FAILED") != std::string::npos ||
       msg.find("certificate verify failed") != std::string::npos ||
       msg.find("Handshake failed") != std::string::npos ||
       msg.find("handshake") != std::string::npos)) {
    return Error(Code::kUnavailable,
                 fmt::format("cannot reach svcd at {} over TLS: the handshake failed ({}). "
                             "Is --ca the CA that signed svcd's certificate, does the "
                             "certificate name this host, and does svcd want a client "
                             "certificate (--cert, --key)?",
                             address_.str(), msg));
  }
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
