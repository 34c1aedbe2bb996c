// svcd's API listener on real sockets, without a daemon: the TCP address must be loopback, the
// token is checked before a body is read, connections and calls in flight are bounded, and the
// unix socket tells handlers who called (SO_PEERCRED). No root needed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>

#include <grpcpp/grpcpp.h>
#include <catch2/catch.hpp>

#include "api/client/client.hpp"
#include "api/server/listener.hpp"
#include "common/fd.hpp"
#include "common/fs.hpp"
#include "svc/v1/node.grpc.pb.h"
#include "svc/v1/tasks.pb.h"
#include "tests/support/process.hpp"

using namespace svc;
using namespace svc::api;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

Result<std::string> any_good_token(std::string_view token) {
  if (token == "good") return std::string("ci");
  return fail(Code::kUnauthenticated, "unknown token");
}

struct Server {
  TempDir dir;
  Dispatcher d;
  std::unique_ptr<ApiServer> api;
  ApiServer::Options options;
  Server() {
    options.unix_socket = dir.path() / "svcd.sock";
    options.tcp = parse_address("tcp://127.0.0.1:0").value();
  }
  Result<> start() {
    api = std::make_unique<ApiServer>(d, any_good_token, [] { return std::string(); });
    return api->start(options);
  }
  int port() const { return *api->tcp_port(); }
  ~Server() {
    if (api) api->stop(0ms);
  }
};

UniqueFd tcp_connect(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  // Never hang the test: a server that does not answer fails it within 10 s.
  timeval tv{10, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void send_all(int fd, const std::string& text) {
  REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size()));
}

// Reads until the peer closes, or the 10 s timeout.
std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Is the server serving a new TCP connection right now (not refusing it)? A refused one is
// closed at once, so the request may not even be sent.
bool serves_a_new_connection(int port) {
  UniqueFd c = tcp_connect(port);
  std::string req = "GET /healthz HTTP/1.1\r\nHost: svcd\r\nConnection: close\r\n\r\n";
  if (::send(c.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size()))
    return false;
  return read_all(c.get()).starts_with("HTTP/1.1 200");
}

}  // namespace

TEST_CASE("TCP: a non-loopback address is refused, saying why and what to do", "[api][tcp]") {
  for (const char* addr : {"tcp://0.0.0.0:0", "tcp://[::]:0"}) {
    INFO(addr);
    Server s;
    s.options.tcp = parse_address(addr).value();
    auto r = s.start();
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find("api.tcp") != std::string::npos);
    CHECK(r.error().message().find("not a loopback address") != std::string::npos);
    CHECK(r.error().message().find("TLS") != std::string::npos);
    CHECK(r.error().message().find("ssh -L") != std::string::npos);
    CHECK_FALSE(fs::exists(s.options.unix_socket));  // nothing was bound
  }
  Server lo;
  lo.options.tcp = parse_address("tcp://localhost:0").value();
  CHECK(lo.start());
}

TEST_CASE("TCP: the token is checked on the headers, before any body is read", "[api][tcp]") {
  Server s;
  REQUIRE(s.start());
  // A 30 MB body (under the 32 MiB limit) announced and never sent: the answer must not wait
  // for it.
  UniqueFd c = tcp_connect(s.port());
  send_all(c.get(),
           "POST /v1/tasks HTTP/1.1\r\nHost: svcd\r\nContent-Type: application/json\r\n"
           "Content-Length: 30000000\r\n\r\n{\"spec\":");
  std::string answer = read_all(c.get());
  INFO(answer);
  CHECK(answer.starts_with("HTTP/1.1 401"));
  CHECK(answer.find("Bearer") != std::string::npos);

  // With a good token a client that waits for "100 Continue" gets it, then its answer.
  UniqueFd ok = tcp_connect(s.port());
  send_all(ok.get(),
           "POST /v1/tasks HTTP/1.1\r\nHost: svcd\r\nAuthorization: Bearer good\r\n"
           "Expect: 100-continue\r\nConnection: close\r\nContent-Length: 2\r\n\r\n");
  char buf[64] = {};
  ssize_t n = ::recv(ok.get(), buf, sizeof buf - 1, 0);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<std::size_t>(n)).starts_with("HTTP/1.1 100 Continue"));
  send_all(ok.get(), "{}");
  std::string rest = read_all(ok.get());
  INFO(rest);
  // The body was read and the call dispatched (this test's dispatcher has no Tasks.Run).
  CHECK(rest.find("HTTP/1.1 501") != std::string::npos);
  CHECK(rest.find("UNIMPLEMENTED") != std::string::npos);
}

TEST_CASE("connections are bounded per listener, and a slot frees when one closes", "[api][tcp]") {
  Server s;
  s.options.max_tcp_connections = 2;
  REQUIRE(s.start());
  {
    // Two connections that say nothing hold both slots (each waits to be sniffed).
    UniqueFd a = tcp_connect(s.port());
    UniqueFd b = tcp_connect(s.port());
    // The kernel queues connections in order, so a and b are accepted before this one.
    CHECK_FALSE(serves_a_new_connection(s.port()));
  }
  // Both closed: a new connection is served again.
  CHECK(svc::test::wait_for([&] { return serves_a_new_connection(s.port()); }, 10s));

  // gRPC connections count too, for as long as gRPC keeps them open. Two channels with the
  // same target and arguments would share one connection (gRPC's global subchannel pool), so
  // each gets a pool of its own.
  std::string target = fmt::format("127.0.0.1:{}", s.port());
  auto channel = [&] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  };
  auto c1 = channel();
  auto c2 = channel();
  for (const auto& c : {c1, c2}) {
    v1::NodeInfo info;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer good");
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    auto st = v1::Node::NewStub(c)->Info(&ctx, v1::NodeInfoRequest(), &info);
    CHECK(st.error_code() == grpc::StatusCode::UNIMPLEMENTED);  // no handler here: reached it
  }
  CHECK_FALSE(serves_a_new_connection(s.port()));
  c1.reset();  // the last reference: gRPC closes that connection
  CHECK(svc::test::wait_for([&] { return serves_a_new_connection(s.port()); }, 10s));
}

TEST_CASE("calls in flight are bounded: one more is RESOURCE_EXHAUSTED", "[api][tcp]") {
  Server s;
  s.options.calls.token_calls = 2;
  std::mutex mu;
  std::condition_variable cv;
  int waiting = 0;
  bool release = false;
  s.d.unary<v1::WaitTaskRequest, v1::Task>(
      "svc.v1.Tasks/Wait",
      [&](const v1::WaitTaskRequest&, v1::Task& out, CallContext&) -> Result<> {
        std::unique_lock lock(mu);
        ++waiting;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
        out.set_id("done");
        return {};
      });
  REQUIRE(s.start());
  std::string host = fmt::format("tcp://127.0.0.1:{}", s.port());
  auto wait_call = [&] {
    auto c = Client::connect(host, "good").value();
    v1::Task t;
    auto ctx = c->context();
    return c->tasks().Wait(ctx.get(), v1::WaitTaskRequest(), &t).error_code();
  };
  auto f1 = std::async(std::launch::async, wait_call);
  auto f2 = std::async(std::launch::async, wait_call);
  {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, 20s, [&] { return waiting == 2; }));
  }
  CHECK(wait_call() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  CHECK(f1.get() == grpc::StatusCode::OK);
  CHECK(f2.get() == grpc::StatusCode::OK);
  CHECK(wait_call() == grpc::StatusCode::OK);  // the budget is given back
}

TEST_CASE("the unix socket tells handlers who called, over gRPC and REST", "[api][unix]") {
  Server s;
  s.options.tcp.reset();
  std::mutex mu;
  std::vector<std::optional<PeerCredentials>> seen;
  s.d.unary<v1::NodeInfoRequest, v1::NodeInfo>(
      "svc.v1.Node/Info", [&](const v1::NodeInfoRequest&, v1::NodeInfo&, CallContext& ctx) {
        std::lock_guard lock(mu);
        seen.push_back(ctx.unix_peer);
        return Result<>{};
      });
  REQUIRE(s.start());
  auto c = Client::connect("unix://" + s.options.unix_socket.string(), "").value();
  v1::NodeInfo info;
  auto ctx = c->context();
  REQUIRE(c->node().Info(ctx.get(), v1::NodeInfoRequest(), &info).ok());

  UniqueFd u(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, s.options.unix_socket.c_str(), sizeof a.sun_path - 1);
  REQUIRE(::connect(u.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  send_all(u.get(), "GET /v1/node HTTP/1.1\r\nHost: svcd\r\nConnection: close\r\n\r\n");
  CHECK(read_all(u.get()).starts_with("HTTP/1.1 200"));

  std::lock_guard lock(mu);
  REQUIRE(seen.size() == 2);
  for (const auto& p : seen) {
    REQUIRE(p.has_value());
    CHECK(p->uid == ::getuid());
    CHECK(p->gid == ::getgid());
    CHECK(p->pid == ::getpid());
  }
}
