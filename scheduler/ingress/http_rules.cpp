#include "scheduler/ingress/http_rules.hpp"

#include <array>

namespace svc::ingress {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr std::array<std::string_view, 9> kHopByHop = {
    "connection", "keep-alive",         "proxy-connection",   "te", "transfer-encoding", "upgrade",
    "trailer",    "proxy-authenticate", "proxy-authorization"};

// Appends the values of every field called name, joined by ", " (RFC 9110 5.3).
bool append_joined(std::string& out, const std::vector<Field>& fields, std::string_view name) {
  bool any = false;
  for (const auto& f : fields) {
    if (!iequals(f.name, name) || f.value.empty()) continue;
    if (any) out += ", ";
    out += f.value;
    any = true;
  }
  return any;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool has_token(std::string_view list, std::string_view token) {
  bool found = false;
  for_each_token(list, [&](std::string_view t) { found = found || iequals(t, token); });
  return found;
}

bool is_hop_by_hop(std::string_view name) {
  // Cheap pre-filter on length and first letter: most fields are none of these.
  if (name.size() < 2 || name.size() > 19) return false;
  char c = lower(name[0]);
  if (c != 'c' && c != 'k' && c != 'p' && c != 't' && c != 'u') return false;
  for (auto h : kHopByHop)
    if (iequals(name, h)) return true;
  return false;
}

bool named_by_connection(const std::vector<Field>& fields, std::string_view name) {
  for (const auto& f : fields)
    if (iequals(f.name, "connection") && has_token(f.value, name)) return true;
  return false;
}

bool is_replaced_request_field(std::string_view name) {
  return iequals(name, "x-forwarded-proto") || iequals(name, "x-forwarded-host") ||
         iequals(name, "expect");
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

void append_forwarding(std::string& out, const std::vector<Field>& fields,
                       std::string_view client_ip, std::string_view host, std::string_view proto) {
  out += "X-Forwarded-For: ";
  if (append_joined(out, fields, "x-forwarded-for")) out += ", ";
  out += client_ip;
  out += "\r\nX-Forwarded-Proto: ";
  out += proto;
  out += "\r\nX-Forwarded-Host: ";
  out += host;
  out += "\r\nForwarded: ";
  if (append_joined(out, fields, "forwarded")) out += ", ";
  bool v6 = client_ip.find(':') != std::string_view::npos;
  out += v6 ? "for=\"[" : "for=";
  out += client_ip;
  if (v6) out += "]\"";
  out += ";host=\"";
  // quoted-string (RFC 7230 3.2.6): a valid Host holds no '"' or '\', but stay safe.
  for (char c : host) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += "\";proto=";
  out += proto;
  out += "\r\n";
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

}  // namespace svc::ingress
