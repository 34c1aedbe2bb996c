#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <set>

#include "api/server/openapi.hpp"
#include "api/server/rest_routes.hpp"

using namespace svc;
using namespace svc::api;
using nlohmann::json;

namespace {

// "/v1/tasks/{id}:stop" -> "/v1/tasks/x:stop": a concrete path the router can match.
std::string concrete(std::string path) {
  for (auto open = path.find('{'); open != std::string::npos; open = path.find('{')) {
    auto close = path.find('}', open);
    path.replace(open, close - open + 1, "x");
  }
  return path;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

TEST_CASE("the OpenAPI document has every served route, and nothing the router does not serve",
          "[rest][openapi]") {
  json doc = json::parse(openapi_document("1.2.3"));
  CHECK(doc["openapi"] == "3.0.3");
  CHECK(doc["info"]["version"] == "1.2.3");
  const json& paths = doc["paths"];

  // Each route of the table is an operation of the document, with its method.
  std::set<std::string> from_routes;
  for (const RestRoute& r : rest_routes()) {
    std::string path(r.pattern);
    if (auto eq = path.find("=**"); eq != std::string::npos) path.erase(eq, 3);
    std::string method(r.http_method);
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    INFO(r.http_method << " " << r.pattern);
    REQUIRE(paths.contains(path));
    CHECK(paths[path].contains(method));
    from_routes.insert(method + " " + path);
  }

  // Each operation of the document is served: the router matches it with that method, to the
  // method the operation names (served beside the routes: /healthz, /metrics, this document).
  Dispatcher d;
  RestRouter router(d);
  const std::set<std::string> beside = {"/healthz", "/metrics", "/v1/openapi.json"};
  int operations = 0;
  for (const auto& [path, item] : paths.items()) {
    for (const auto& [method, op] : item.items()) {
      ++operations;
      INFO(method << " " << path);
      REQUIRE(op.contains("responses"));
      CHECK(op["responses"].contains("default"));
      if (beside.contains(path)) continue;
      CHECK(from_routes.contains(method + " " + path));
      auto m = router.match(upper(method), concrete(path));
      REQUIRE(m);
      std::string id = op["operationId"];
      std::string rpc = m->method->full_name;  // svc.v1.Tasks/Wait
      std::string service = rpc.substr(7, rpc.find('/') - 7);
      CHECK(id.starts_with(service + "." + rpc.substr(rpc.find('/') + 1)));
    }
  }
  CHECK(operations == static_cast<int>(rest_routes().size() + beside.size()));
}

TEST_CASE("OpenAPI schemas follow protobuf's JSON mapping", "[rest][openapi]") {
  json doc = json::parse(openapi_document("0"));
  const json& schemas = doc["components"]["schemas"];
  const json& task = schemas["svc.v1.Task"];
  CHECK(task["additionalProperties"] == false);  // closed: drift is an error in the checker
  const json& props = task["properties"];
  CHECK(props["createdAt"]["format"] == "date-time");          // Timestamp: RFC 3339
  CHECK(props["state"]["$ref"] == "#/components/schemas/svc.v1.Task.State");
  CHECK(props["exitCode"]["type"] == "integer");
  CHECK(schemas["svc.v1.Task.State"]["enum"].size() == 7);
  CHECK(schemas["svc.v1.TaskUsage"]["properties"]["memoryPeakBytes"]["type"] == "string");
  CHECK(schemas["svc.v1.TaskSpec"]["properties"]["labels"]["additionalProperties"]["type"] ==
        "string");                                              // a map
  CHECK(schemas["svc.v1.TaskSpec"]["properties"]["args"]["type"] == "array");

  // GET routes take the request's fields as query parameters, path variables in the path.
  const json& list = doc["paths"]["/v1/tasks"]["get"]["parameters"];
  std::set<std::string> names;
  for (const auto& p : list) names.insert(p["name"].get<std::string>());
  CHECK(names.contains("all"));
  CHECK(names.contains("labels"));
  const json& get = doc["paths"]["/v1/tasks/{id}"]["get"]["parameters"];
  REQUIRE(get.size() == 1);
  CHECK(get[0]["in"] == "path");
  // Streams and WebSockets say what they are.
  CHECK(doc["paths"]["/v1/tasks/{id}/logs"]["get"]["responses"]["200"]["content"].contains(
      "application/x-ndjson"));
  CHECK(doc["paths"]["/v1/tasks/{id}:exec"]["get"]["responses"].contains("101"));
}
