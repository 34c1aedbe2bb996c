#include "common/address.hpp"

#include <charconv>

namespace svc {

std::string Address::str() const {
  if (kind == Kind::kUnix) return "unix://" + path;
  const char* scheme = tls ? "tcps" : "tcp";
  if (host.find(':') != std::string::npos) return fmt::format("{}://[{}]:{}", scheme, host, port);
  return fmt::format("{}://{}:{}", scheme, host, port);
}

Result<Address> parse_host_port(std::string_view text, std::string_view what) {
  Address a;
  a.kind = Address::Kind::kTcp;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return fail(Code::kInvalidArgument, "invalid {} \"{}\": missing ']' after an IPv6 address",
                  what, text);
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':')
      return fail(Code::kInvalidArgument, "invalid {} \"{}\": expected \":PORT\" after \"]\"", what,
                  text);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return fail(Code::kInvalidArgument, "invalid {} \"{}\": expected HOST:PORT", what, text);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return fail(Code::kInvalidArgument,
                  "invalid {} \"{}\": write an IPv6 address in brackets, as [::1]:7070", what,
                  text);
  }
  if (host.empty())
    return fail(Code::kInvalidArgument, "invalid {} \"{}\": the host is empty", what, text);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value > 65535)
    return fail(Code::kInvalidArgument, "invalid {} \"{}\": the port must be a number 0-65535",
                what, text);
  a.host = std::string(host);
  a.port = static_cast<std::uint16_t>(value);
  return a;
}

Result<Address> parse_address(std::string_view text) {
  if (text.empty()) return fail(Code::kInvalidArgument, "invalid address \"\": empty");
  Address a;
  if (text.starts_with("unix://")) {
    a.path = std::string(text.substr(7));
  } else if (text.starts_with("unix:")) {
    a.path = std::string(text.substr(5));
  } else if (text.front() == '/') {
    a.path = std::string(text);
  } else if (text.starts_with("tcp://")) {
    return parse_host_port(text.substr(6), "address");
  } else if (text.starts_with("tcps://")) {
    auto tcps = SVC_TRY(parse_host_port(text.substr(7), "address"));
    tcps.tls = true;
    return tcps;
  } else if (text.find("://") != std::string_view::npos) {
    return fail(Code::kInvalidArgument,
                "invalid address \"{}\": use unix:///path/to/svcd.sock, tcp://HOST:PORT or "
                "tcps://HOST:PORT (TLS)",
                text);
  } else {
    return parse_host_port(text, "address");
  }
  if (a.path.empty() || a.path.front() != '/')
    return fail(Code::kInvalidArgument,
                "invalid address \"{}\": a unix socket path must be absolute", text);
  if (a.path.size() >= 108)
    return fail(Code::kInvalidArgument,
                "invalid address \"{}\": a unix socket path must be shorter than 108 bytes", text);
  return a;
}

}  // namespace svc
