#include "scheduler/ingress/http1_writer.hpp"

#include <charconv>

#include "scheduler/ingress/http_rules.hpp"

namespace svc::ingress {

namespace {

// True when some Connection field names more than keep-alive/close: only then does each field
// need checking against those names.
bool connection_names_fields(const std::vector<Field>& fields) {
  for (const auto& f : fields) {
    if (!iequals(f.name, "connection")) continue;
    bool other = false;
    for_each_token(f.value, [&](std::string_view t) {
      if (!iequals(t, "keep-alive") && !iequals(t, "close")) other = true;
    });
    if (other) return true;
  }
  return false;
}

void append_field(std::string& out, const Field& f) {
  out += f.name;
  out += ": ";
  out += f.value;
  out += "\r\n";
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

void write_request_head(std::string& out, const RequestHead& head, std::string_view forwarding,
                        bool chunked) {
  out.clear();
  out += head.method;
  out += ' ';
  out += head.path;
  out += " HTTP/1.1\r\nHost: ";
  out += head.authority;
  out += "\r\n";
  bool check_named = connection_names_fields(head.fields);
  for (const auto& f : head.fields) {
    if (iequals(f.name, "host") || is_hop_by_hop(f.name) || is_replaced_request_field(f.name) ||
        iequals(f.name, "x-forwarded-for") || iequals(f.name, "forwarded"))
      continue;
    if (check_named && named_by_connection(head.fields, f.name)) continue;
    append_field(out, f);
  }
  out += forwarding;
  if (chunked) out += "Transfer-Encoding: chunked\r\n";
  out += "\r\n";
}

void write_response_head(std::string& out, const ResponseOut& response, int client_version) {
  const ResponseHead& head = *response.head;
  out.clear();
  out += "HTTP/1.1 ";
  append_number(out, static_cast<std::uint64_t>(head.status));
  out += ' ';
  out += head.reason.empty() ? reason_phrase(head.status) : head.reason;
  out += "\r\n";
  bool check_named = connection_names_fields(head.fields);
  for (const auto& f : head.fields) {
    if (is_hop_by_hop(f.name)) continue;
    if (check_named && named_by_connection(head.fields, f.name)) continue;
    append_field(out, f);
  }
  if (response.framing == Framing::kChunked) out += "Transfer-Encoding: chunked\r\n";
  if (!response.server_timing.empty()) {
    out += "Server-Timing: ";
    out += response.server_timing;
    out += "\r\n";
  }
  if (response.close)
    out += "Connection: close\r\n";
  else if (client_version == 10)
    out += "Connection: keep-alive\r\n";
  out += "\r\n";
}

void write_local_response(std::string& out, int status, std::string_view body,
                          std::string_view extra_fields, bool close, int client_version,
                          bool head_request) {
  out.clear();
  out += "HTTP/1.1 ";
  append_number(out, static_cast<std::uint64_t>(status));
  out += ' ';
  out += reason_phrase(status);
  out += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  append_number(out, body.size());
  out += "\r\n";
  out += extra_fields;
  if (close)
    out += "Connection: close\r\n";
  else if (client_version == 10)
    out += "Connection: keep-alive\r\n";
  out += "\r\n";
  if (!head_request) out += body;
}

std::size_t chunk_header(char* buf, std::size_t size) {
  auto [end, ec] = std::to_chars(buf, buf + 18, size, 16);
  end[0] = '\r';
  end[1] = '\n';
  return static_cast<std::size_t>(end - buf) + 2;
}

}  // namespace svc::ingress
