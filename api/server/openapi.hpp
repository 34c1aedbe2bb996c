#pragma once
// The REST API as an OpenAPI 3.0 document, made from the route table (rest_routes.hpp) and the
// proto descriptors, so it cannot drift from what svcd serves: paths and methods from the
// routes, parameters from the path variables and the request message's fields, bodies and
// answers from the messages in protobuf's JSON mapping (the shape REST speaks). svcd serves it
// at GET /v1/openapi.json; `svcd --generate openapi` prints it (docs/openapi.json).
#include <string>
#include <string_view>

namespace svc::api {

// The document, pretty-printed JSON. version goes in info.version.
std::string openapi_document(std::string_view version);

}  // namespace svc::api
