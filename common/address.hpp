#pragma once
// API addresses as users write them: "unix:///run/svcd/svcd.sock", "/run/svcd/svcd.sock",
// "tcp://127.0.0.1:7070", "127.0.0.1:7070", "localhost:7070", "[::1]:7070", and with TLS
// "tcps://node1.example:7070".
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace svc {

struct Address {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string path;  // kUnix
  std::string host;  // kTcp, without brackets
  std::uint16_t port = 0;
  bool tls = false;  // kTcp: "tcps://"

  std::string str() const;  // canonical: unix:///path, tcp://host:port or tcps://host:port
};

Result<Address> parse_address(std::string_view text);
// "127.0.0.1:8080" (port 0 allowed: the kernel picks).
Result<Address> parse_host_port(std::string_view text, std::string_view what);

}  // namespace svc
