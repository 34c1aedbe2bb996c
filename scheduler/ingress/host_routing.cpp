#include "scheduler/ingress/host_routing.hpp"

namespace svc::ingress {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 3986 unreserved / sub-delims / pct-encoded characters of a reg-name.
bool reg_name_char(char c) {
  if (is_alpha(c) || is_digit(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case '%':
      return true;
    default:
      return false;
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

}  // namespace

bool valid_service_name(std::string_view name) {
  if (name.empty() || name.size() > ServiceName::kMax) return false;
  if (name.front() == '-' || name.back() == '-') return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-')) return false;
  return true;
}

std::string_view strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  auto colon = host.rfind(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

bool valid_host(std::string_view host) {
  if (host.empty()) return false;
  std::string_view name = host, port;
  if (host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : host.substr(1, close - 1))
      if (!(is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'f') || c == ':' || c == '.'))
        return false;
    name = host.substr(0, close + 1);
    port = host.substr(close + 1);
    if (!port.empty() && port.front() != ':') return false;
  } else {
    auto colon = host.find(':');
    if (colon != std::string_view::npos) {
      name = host.substr(0, colon);
      port = host.substr(colon);
    }
    if (name.empty()) return false;
    for (char c : name)
      if (!reg_name_char(c)) return false;
  }
  if (!port.empty()) {
    port.remove_prefix(1);  // ':'
    if (port.size() > 5) return false;
    for (char c : port)
      if (!is_digit(c)) return false;
  }
  return true;
}

std::string normalize_domain(std::string_view domain) {
  while (!domain.empty() && domain.front() == '.') domain.remove_prefix(1);
  while (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  std::string out(domain);
  for (char& c : out) c = lower(c);
  return out;
}

std::optional<ServiceName> service_for_host(std::string_view host, std::string_view domain) {
  if (domain.empty() || !valid_host(host)) return std::nullopt;
  std::string_view name = strip_port(host);
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  // NAME "." domain
  if (name.size() < domain.size() + 2) return std::nullopt;
  std::string_view suffix = name.substr(name.size() - domain.size());
  if (!iequals(suffix, domain) || name[name.size() - domain.size() - 1] != '.') return std::nullopt;
  std::string_view label = name.substr(0, name.size() - domain.size() - 1);
  if (label.empty() || label.size() > ServiceName::kMax) return std::nullopt;
  ServiceName out;
  for (char c : label) out.data_[out.size_++] = lower(c);
  if (!valid_service_name(out.view())) return std::nullopt;
  return out;
}

}  // namespace svc::ingress
