#pragma once
// Serializing HTTP/1.1 heads on the way through the proxy, as plain functions into a reused
// buffer (no allocation once it has grown): the request head towards an instance, the response
// head towards the client, the proxy's own responses, chunk framing.
#include <cstddef>
#include <string>
#include <string_view>

#include "scheduler/ingress/message.hpp"

namespace svc::ingress {

// "METHOD path HTTP/1.1", Host: <authority>, the client's fields minus hop-by-hop ones (and
// those its Connection names), minus X-Forwarded-*/Forwarded/Expect (forwarding holds the
// proxy's versions), then forwarding, then Transfer-Encoding: chunked when chunked.
void write_request_head(std::string& out, const RequestHead& head, std::string_view forwarding,
                        bool chunked);

// "HTTP/1.1 status reason", the instance's fields minus hop-by-hop ones, the framing the proxy
// chose, Server-Timing when set, and Connection: close (or keep-alive for an HTTP/1.0 client
// that keeps the connection).
void write_response_head(std::string& out, const ResponseOut& response, int client_version);

// A response the proxy makes itself: text/plain body of its own (left out, but counted in
// Content-Length, when it answers a HEAD).
void write_local_response(std::string& out, int status, std::string_view body,
                          std::string_view extra_fields, bool close, int client_version,
                          bool head_request);

// "<size in hex>\r\n" into buf (at least 20 bytes); returns its length.
std::size_t chunk_header(char* buf, std::size_t size);

inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

}  // namespace svc::ingress
