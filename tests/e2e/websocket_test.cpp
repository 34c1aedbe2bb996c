// REST's Attach and Exec as a WebSocket client drives them (Beast's client over svcd's unix
// socket): the path and query are the first message, JSON text messages go both ways, the last
// message is the exit. Root only (SVC_SKIPPED otherwise).
#include <utility>  // before Asio: g++ 12 in C++20

#include <unistd.h>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/busybox_image.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/registry_fixture.hpp"
#include "tests/support/skip.hpp"

using namespace svc;
using namespace svc::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

// A WebSocket to svcd's REST API on its unix socket.
class Ws {
 public:
  Ws(const std::filesystem::path& socket, const std::string& target) : ws_(io_) {
    ws_.next_layer().connect(asio::local::stream_protocol::endpoint(socket.string()));
    ws_.handshake("localhost", target);
    ws_.text(true);
  }
  void send(const json& j) { ws_.write(asio::buffer(j.dump())); }
  // The next message, or null once the server closed.
  json next() {
    beast::flat_buffer b;
    beast::error_code ec;
    ws_.read(b, ec);
    if (ec) return json();
    return json::parse(beast::buffers_to_string(b.data()));
  }

 private:
  asio::io_context io_;
  websocket::stream<asio::local::stream_protocol::socket> ws_;
};

std::string base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned val = 0;
  int bits = -6;
  for (unsigned char c : in) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(k[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(k[((val << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

std::string unbase64(const std::string& in) {
  std::string out;
  unsigned val = 0;
  int bits = -8;
  for (char c : in) {
    const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char* p = std::strchr(k, c);
    if (!p || c == '=') break;
    val = (val << 6) + static_cast<unsigned>(p - k);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

}  // namespace

TEST_CASE("REST: exec and attach are WebSockets with the same messages as gRPC",
          "[e2e][rest]") {
  SVC_SKIP_UNLESS_ROOT();
  DaemonFixture::Options o;
  o.extra_config = insecure_registry_toml(busybox_registry().registry);
  DaemonFixture d(o);
  d.start();
  REQUIRE(d.svctl({"run", "-d", "-i", "--name", "box", busybox_registry().image, "cat"}).exit_code == 0);
  REQUIRE(wait_for([&] { return d.svctl({"exec", "box", "true"}).exit_code == 0; }, 30s));

  {
    // Exec: the query is the first message; stdin, then EOF, then the exit.
    Ws ws(d.socket(),
          "/v1/tasks/"
          "box:exec?args=sh&args=-c&args=read%20x%3B%20echo%20got-%24x%3B%20exit%205&stdin=true");
    json hello = ws.next();
    REQUIRE(hello.contains("attached"));
    ws.send({{"input", {{"data", base64("line\n")}}}});
    std::string out;
    json last;
    for (json m = ws.next(); !m.is_null(); m = ws.next()) {
      if (m.contains("stdout")) out += unbase64(m["stdout"]);
      if (m.contains("exit")) last = m;
    }
    CHECK(out == "got-line\n");
    REQUIRE(last.contains("exit"));
    CHECK(last["exit"].value("exitCode", -1) == 5);
  }
  {
    // Attach with stdin to the task (cat): what is typed comes back.
    Ws ws(d.socket(), "/v1/tasks/box:attach?stdin=true");
    REQUIRE(ws.next().contains("attached"));
    ws.send({{"input", {{"data", base64("echoed\n")}}}});
    json m = ws.next();
    REQUIRE(m.contains("stdout"));
    CHECK(unbase64(m["stdout"]) == "echoed\n");
    ws.send({{"input", {{"close", true}}}});
    json last;
    for (json n = ws.next(); !n.is_null(); n = ws.next())
      if (n.contains("exit")) last = n;
    CHECK(last["exit"].value("exitCode", -1) == 0);
  }
  // Without the upgrade: a clear error, not a hang.
  auto plain = d.curl("GET", "/v1/tasks/box:attach");
  CHECK(plain.exit_code == 400);
  CHECK(plain.out.find("WebSocket") != std::string::npos);
}

// A session's end closes its own descriptor only: the next connection, accepted as Beast
// closes the session's socket, once got the same fd number and was closed with the request
// unread ("Connection reset by peer" in its handshake, about 1 run in 3 of the case above).
TEST_CASE("REST: the end of one WebSocket session never ends the next connection",
          "[e2e][rest]") {
  SVC_SKIP_UNLESS_ROOT();
  DaemonFixture::Options o;
  o.extra_config = insecure_registry_toml(busybox_registry().registry);
  DaemonFixture d(o);
  d.start();
  REQUIRE(d.svctl({"run", "-d", "--name", "idle", busybox_registry().image, "sleep", "600"}).exit_code == 0);
  REQUIRE(wait_for([&] { return d.svctl({"exec", "idle", "true"}).exit_code == 0; }, 30s));
  for (int i = 0; i < 25; ++i) {
    INFO("session " << i);
    Ws ws(d.socket(), "/v1/tasks/idle:exec?args=true");
    REQUIRE(ws.next().contains("attached"));
    json last;
    for (json m = ws.next(); !m.is_null(); m = ws.next())
      if (m.contains("exit")) last = m;
    REQUIRE(last.contains("exit"));
  }
}
