#include <catch2/catch.hpp>

#include "common/address.hpp"

using namespace svc;

TEST_CASE("API addresses parse in every form users write", "[address]") {
  auto a = parse_address("unix:///run/svcd/svcd.sock").value();
  CHECK(a.kind == Address::Kind::kUnix);
  CHECK(a.path == "/run/svcd/svcd.sock");
  CHECK(a.str() == "unix:///run/svcd/svcd.sock");
  CHECK(parse_address("/tmp/x.sock").value().path == "/tmp/x.sock");
  auto t = parse_address("tcp://127.0.0.1:7070").value();
  CHECK(t.kind == Address::Kind::kTcp);
  CHECK(t.host == "127.0.0.1");
  CHECK(t.port == 7070);
  CHECK(parse_address("localhost:7070").value().host == "localhost");
  auto v6 = parse_address("[::1]:7070").value();
  CHECK(v6.host == "::1");
  CHECK(v6.str() == "tcp://[::1]:7070");
}

TEST_CASE("bad addresses say what is wrong", "[address]") {
  CHECK(parse_address("unix://relative.sock").error().message().find("absolute") !=
        std::string::npos);
  CHECK(parse_address("http://x:1").error().message().find("unix:///") != std::string::npos);
  CHECK(parse_address("127.0.0.1").error().message().find("HOST:PORT") != std::string::npos);
  CHECK(parse_address("host:99999").error().message().find("port") != std::string::npos);
  CHECK(parse_address("::1:80").error().message().find("brackets") != std::string::npos);
  CHECK_FALSE(parse_address(""));
  CHECK_FALSE(parse_address(":80"));
  CHECK_FALSE(parse_address("unix://" + std::string(200, 'a')));
}

TEST_CASE("tcps:// is TCP with TLS", "[address]") {
  auto s = parse_address("tcps://node1.example:7070").value();
  CHECK(s.kind == Address::Kind::kTcp);
  CHECK(s.tls);
  CHECK(s.host == "node1.example");
  CHECK(s.port == 7070);
  CHECK(s.str() == "tcps://node1.example:7070");
  CHECK(parse_address("tcps://[::1]:1").value().str() == "tcps://[::1]:1");
  CHECK_FALSE(parse_address("tcp://127.0.0.1:1").value().tls);
  CHECK_FALSE(parse_address("127.0.0.1:1").value().tls);
  CHECK(parse_address("tcps://nope").error().message().find("HOST:PORT") != std::string::npos);
  CHECK(parse_address("https://x:1").error().message().find("tcps://") != std::string::npos);
}
