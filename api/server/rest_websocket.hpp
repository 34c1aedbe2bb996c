#pragma once
// REST's side of a bidirectional method (Tasks.Attach, Tasks.Exec): the HTTP request is a
// WebSocket upgrade (RFC 6455), the way Docker and Kubernetes serve exec. Its path and query
// parameters build the first request message; every text message the client sends after is one
// more request message in protobuf's JSON mapping; every message of the method's answer is one
// text message of JSON. An error before the upgrade is an ordinary JSON error response; after
// it, a last {"error": {...}} message and a close frame.
//
// Included by rest_gateway.cpp and rest_websocket.cpp only: Beast is heavy to compile.
#include <utility>  // before Asio: g++ 12 in C++20 (DEPENDENCIES.md)

#include <memory>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/beast/http.hpp>

#include "api/server/dispatcher.hpp"

namespace svc::api {

bool is_websocket_upgrade(const boost::beast::http::request<boost::beast::http::string_body>& req);

// Accepts the upgrade on socket (blocking, owned by the caller; its io_context is run here for
// the session), runs the method, and closes the WebSocket. Returns once the session is over.
void serve_websocket(boost::asio::generic::stream_protocol::socket& socket,
                     const boost::beast::http::request<boost::beast::http::string_body>& req,
                     const Dispatcher& dispatcher, const Dispatcher::Method& method,
                     std::unique_ptr<google::protobuf::Message> first, CallContext& context);

}  // namespace svc::api
