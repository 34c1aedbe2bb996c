#pragma once
// REST routes: (HTTP method, path template) -> an API method of the Dispatcher. Path variables,
// query parameters and the JSON body all fill the same request message through protobuf's JSON
// mapping, so a field added to a proto is reachable over REST without touching this table.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <google/protobuf/message.h>

#include "api/server/dispatcher.hpp"

namespace svc::api {

struct RestRoute {
  std::string_view http_method;
  // "/v1/tasks/{id}:stop", "/v1/images/{reference=**}"; a {name=**} variable takes the rest.
  std::string_view pattern;
  std::string_view rpc;  // "svc.v1.Tasks/Stop"
  bool body = false;     // the JSON body is the request message
};

// Every REST route of the API, in match order.
const std::vector<RestRoute>& rest_routes();

struct RouteMatch {
  const Dispatcher::Method* method = nullptr;
  const RestRoute* route = nullptr;
  std::vector<std::pair<std::string, std::string>> path_params;
};

class RestRouter {
 public:
  explicit RestRouter(const Dispatcher& dispatcher);

  // NOT_FOUND when no pattern matches the path; UNIMPLEMENTED with the allowed methods in the
  // message when the path matches with another HTTP method (REST answers 405, as grpc-gateway).
  Result<RouteMatch> match(std::string_view http_method, std::string_view target_path) const;
  // Allowed methods for a path that matched with another one ("GET, DELETE").
  std::string allowed_methods(std::string_view target_path) const;

  // Builds the request: body (when the route takes one), then query parameters, then path
  // variables (which win). Unknown parameters and bad values are INVALID_ARGUMENT naming them.
  Result<std::unique_ptr<google::protobuf::Message>> build_request(const RouteMatch& match,
                                                                   std::string_view query,
                                                                   std::string_view body) const;

 private:
  const Dispatcher& dispatcher_;
};

// Percent-decoding of one path segment or query component ('+' is a space in queries only).
Result<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace svc::api
