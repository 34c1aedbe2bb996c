#pragma once
// What a proxy forwards and what it adds, as plain functions (RFC 9110 7.6, RFC 7239,
// the de-facto X-Forwarded-* headers). No allocation beyond the caller's output buffer.
#include <string>
#include <string_view>

#include "scheduler/ingress/message.hpp"

namespace svc::ingress {

bool iequals(std::string_view a, std::string_view b);

// Calls fn(token) for each element of a comma-separated field value (RFC 9110 5.6.1), with
// optional whitespace trimmed and empty elements skipped.
template <class Fn>
void for_each_token(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

bool has_token(std::string_view list, std::string_view token);

// Connection-specific fields a proxy must not forward (RFC 9110 7.6.1, plus RFC 2616 13.5.1's
// Proxy-Authenticate/-Authorization/Trailer and the non-standard Proxy-Connection).
bool is_hop_by_hop(std::string_view name);

// True when name is listed in one of the head's Connection fields (those are hop-by-hop too).
bool named_by_connection(const std::vector<Field>& fields, std::string_view name);

// Fields of the request the proxy replaces with its own on the way to the instance:
// X-Forwarded-Proto, X-Forwarded-Host, and Expect (the proxy answers 100-continue itself).
// X-Forwarded-For and Forwarded are extended, not replaced (see append_forwarding).
bool is_replaced_request_field(std::string_view name);

// RFC 9110 9.2.2: a request that may be sent again without changing the outcome.
bool is_idempotent(std::string_view method);

// Appends to out the forwarding fields for a request from client_ip (no port) that arrived for
// host over proto ("http"), given the X-Forwarded-For/Forwarded fields it already carried:
//   X-Forwarded-For: <theirs>, <client_ip>
//   X-Forwarded-Proto: <proto>
//   X-Forwarded-Host: <host>
//   Forwarded: <theirs>, for=<client_ip>;host="<host>";proto=<proto>
// Each line ends with CRLF. An IPv6 client is bracketed and quoted in Forwarded (RFC 7239 6).
void append_forwarding(std::string& out, const std::vector<Field>& fields,
                       std::string_view client_ip, std::string_view host, std::string_view proto);

// The standard reason phrase ("Not Found"), or "" for an unknown code.
std::string_view reason_phrase(int status);

}  // namespace svc::ingress
