#pragma once
// Which service a request is for: its Host (or the authority of an absolute-form target) is
// NAME.<domain>, with or without a port, in any case, with or without a trailing dot.
// Pure functions on string views; no allocation (a service name fits in a DNS label).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace svc::ingress {

// A service name as it appears in a host: one DNS label (RFC 1035 2.3.4: at most 63 octets),
// lower-cased. Held inline so routing a request allocates nothing.
class ServiceName {
 public:
  static constexpr std::size_t kMax = 63;
  std::string_view view() const { return {data_, size_}; }
  bool operator==(const ServiceName& o) const { return view() == o.view(); }

 private:
  friend std::optional<ServiceName> service_for_host(std::string_view, std::string_view);
  char data_[kMax] = {};
  std::size_t size_ = 0;
};

// True for a valid DNS label of lower-case letters, digits and '-' (not at either end): the
// names services may have, so every service is reachable at NAME.<domain>.
bool valid_service_name(std::string_view name);

// The host without its port: "a.b:80" -> "a.b", "[::1]:80" -> "[::1]". The text as given.
std::string_view strip_port(std::string_view host);

// A syntactically valid Host value (RFC 9110 7.2 / RFC 3986 3.2.2): reg-name or IP literal,
// optional :port of digits. Empty is invalid here (HTTP/1.1 requires a non-empty Host for
// origin-form requests to a reverse proxy).
bool valid_host(std::string_view host);

// "hello.localhost:8080" with domain "localhost" -> "hello". nullopt when the host is not
// exactly one valid label under domain (which is matched case-insensitively; "" matches none).
std::optional<ServiceName> service_for_host(std::string_view host, std::string_view domain);

// The lower-cased domain without leading or trailing dots, as routing compares it.
std::string normalize_domain(std::string_view domain);

}  // namespace svc::ingress
