#include "api/server/openapi.hpp"

#include <google/protobuf/descriptor.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "api/server/rest_routes.hpp"

namespace svc::api {

namespace pb = google::protobuf;
using nlohmann::ordered_json;

namespace {

std::string schema_ref(const std::string& name) { return "#/components/schemas/" + name; }

class SchemaBuilder {
 public:
  // A schema for a field's value (not counting repetition).
  ordered_json value_schema(const pb::FieldDescriptor* f) {
    using FD = pb::FieldDescriptor;
    switch (f->type()) {
      case FD::TYPE_DOUBLE:
      case FD::TYPE_FLOAT:
        return {{"type", "number"}};
      case FD::TYPE_INT32:
      case FD::TYPE_SINT32:
      case FD::TYPE_SFIXED32:
        return {{"type", "integer"}, {"format", "int32"}};
      case FD::TYPE_UINT32:
      case FD::TYPE_FIXED32:
        return {{"type", "integer"}, {"format", "int64"}, {"minimum", 0}};
      // The JSON mapping writes 64-bit integers as strings (they do not fit a double).
      case FD::TYPE_INT64:
      case FD::TYPE_SINT64:
      case FD::TYPE_SFIXED64:
        return {{"type", "string"}, {"format", "int64"}};
      case FD::TYPE_UINT64:
      case FD::TYPE_FIXED64:
        return {{"type", "string"}, {"format", "uint64"}};
      case FD::TYPE_BOOL:
        return {{"type", "boolean"}};
      case FD::TYPE_STRING:
        return {{"type", "string"}};
      case FD::TYPE_BYTES:
        return {{"type", "string"}, {"format", "byte"}};
      case FD::TYPE_ENUM:
        return {{"$ref", schema_ref(enum_schema(f->enum_type()))}};
      case FD::TYPE_MESSAGE:
      case FD::TYPE_GROUP:
        return message_or_wkt(f->message_type());
    }
    return ordered_json::object();
  }

  ordered_json field_schema(const pb::FieldDescriptor* f) {
    if (f->is_map()) {
      const pb::FieldDescriptor* value = f->message_type()->map_value();
      return {{"type", "object"}, {"additionalProperties", value_schema(value)}};
    }
    ordered_json s = value_schema(f);
    if (f->is_repeated()) s = {{"type", "array"}, {"items", s}};
    return s;
  }

  // The schema of a message or of a well-known type as the JSON mapping writes it.
  ordered_json message_or_wkt(const pb::Descriptor* d) {
    const std::string& n = d->full_name();
    if (n == "google.protobuf.Timestamp")
      return {{"type", "string"}, {"format", "date-time"}};
    if (n == "google.protobuf.Duration")
      return {{"type", "string"}, {"description", "seconds with an \"s\" suffix, \"1.5s\""}};
    if (n == "google.protobuf.Struct") return {{"type", "object"}};
    if (n == "google.protobuf.Value") return ordered_json::object();
    if (n == "google.protobuf.ListValue") return {{"type", "array"}, {"items", ordered_json::object()}};
    if (n == "google.protobuf.Empty") return {{"type", "object"}};
    if (n == "google.protobuf.FieldMask") return {{"type", "string"}};
    if (n.starts_with("google.protobuf.") && n.ends_with("Value") && d->field_count() == 1)
      return value_schema(d->field(0));  // the wrappers: Int64Value, StringValue...
    return {{"$ref", schema_ref(message_schema(d))}};
  }

  std::string enum_schema(const pb::EnumDescriptor* e) {
    const std::string& name = e->full_name();
    if (schemas_.contains(name)) return name;
    ordered_json values = ordered_json::array();
    for (int i = 0; i < e->value_count(); ++i) values.push_back(e->value(i)->name());
    schemas_[name] = {{"type", "string"}, {"enum", values}};
    return name;
  }

  std::string message_schema(const pb::Descriptor* d) {
    const std::string& name = d->full_name();
    if (schemas_.contains(name)) return name;
    // Reserved before the fields are read, so a message that contains itself refers to its
    // own entry instead of recursing.
    schemas_[name] = ordered_json::object();
    ordered_json props = ordered_json::object();
    for (int i = 0; i < d->field_count(); ++i) {
      const pb::FieldDescriptor* f = d->field(i);
      props[f->json_name()] = field_schema(f);
    }
    // Closed: svcd refuses fields it does not know, and never sends one the proto lacks.
    schemas_[name] = {
        {"type", "object"}, {"properties", props}, {"additionalProperties", false}};
    return name;
  }

  ordered_json take() {
    ordered_json out = ordered_json::object();
    for (auto& [name, s] : schemas_) out[name] = std::move(s);  // sorted by name
    return out;
  }

 private:
  std::map<std::string, ordered_json> schemas_;
};

struct Variable {
  std::string name;
  bool rest = false;  // {name=**}: takes the rest of the path, slashes included
};

// "/v1/images/{reference=**}" -> "/v1/images/{reference}", and its variables.
std::string openapi_path(std::string_view pattern, std::vector<Variable>& vars) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      out.push_back(pattern[i]);
      continue;
    }
    std::size_t close = pattern.find('}', i);
    std::string_view var = pattern.substr(i + 1, close - i - 1);
    Variable v;
    if (auto eq = var.find('='); eq != std::string_view::npos) {
      v.rest = var.substr(eq + 1) == "**";
      var = var.substr(0, eq);
    }
    v.name = std::string(var);
    out += "{" + v.name + "}";
    vars.push_back(std::move(v));
    i = close;
  }
  return out;
}

ordered_json error_responses() {
  ordered_json error = {{"$ref", "#/components/responses/Error"}};
  return {{"400", error}, {"401", error}, {"403", error}, {"404", error},
          {"409", error}, {"429", error}, {"default", error}};
}

}  // namespace

std::string openapi_document(std::string_view version) {
  SchemaBuilder schemas;
  ordered_json paths = ordered_json::object();
  std::set<std::string> operation_ids;
  ordered_json tags = ordered_json::array();  // one per gRPC service, in route order
  std::set<std::string> tagged;
  const ordered_json errors = error_responses();

  for (const RestRoute& route : rest_routes()) {
    std::string rpc(route.rpc);  // "svc.v1.Tasks/Run"
    auto slash = rpc.find('/');
    const pb::ServiceDescriptor* service =
        pb::DescriptorPool::generated_pool()->FindServiceByName(rpc.substr(0, slash));
    const pb::MethodDescriptor* method =
        service ? service->FindMethodByName(rpc.substr(slash + 1)) : nullptr;
    if (!method) continue;  // the route table's own test refuses such a route
    if (tagged.insert(service->name()).second) tags.push_back({{"name", service->name()}});
    std::vector<Variable> vars;
    std::string path = openapi_path(route.pattern, vars);
    std::string http_method(route.http_method);
    for (char& c : http_method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

    // Tasks/Wait is served as GET and POST: one operation id each.
    std::string op_id = service->name() + "." + method->name();
    if (!operation_ids.insert(op_id).second) op_id += "." + http_method;
    ordered_json op = {{"operationId", op_id}, {"tags", ordered_json::array({service->name()})}};
    // The generated descriptors keep no source comments: the summary names the gRPC method.
    op["summary"] = "gRPC " + service->full_name() + "/" + method->name();

    const pb::Descriptor* in = method->input_type();
    ordered_json params = ordered_json::array();
    std::set<std::string> bound;
    for (const Variable& v : vars) {
      const pb::FieldDescriptor* f = in->FindFieldByName(v.name);
      ordered_json p = {{"name", v.name}, {"in", "path"}, {"required", true},
                        {"schema", f ? schemas.field_schema(f) : ordered_json{{"type", "string"}}}};
      if (v.rest)
        p["description"] =
            "an image reference: percent-encode its slashes (demo%2Fbusybox); svcd also takes "
            "them raw, as the rest of the path";
      params.push_back(p);
      bound.insert(v.name);
    }
    if (route.body) {
      op["requestBody"] = {
          {"required", false},
          {"content",
           {{"application/json",
             {{"schema", {{"$ref", schema_ref(schemas.message_schema(in))}}}}}}}};
    } else {
      // The request's fields as query parameters (path variables win); a map field takes
      // KEY=VALUE, a repeated one the parameter again or a comma-separated list.
      for (int i = 0; i < in->field_count(); ++i) {
        const pb::FieldDescriptor* f = in->field(i);
        if (bound.contains(f->name())) continue;
        if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE && !f->is_map()) {
          const std::string& n = f->message_type()->full_name();
          if (!n.starts_with("google.protobuf.")) continue;  // nested messages only in bodies
        }
        ordered_json p = {{"name", f->json_name()}, {"in", "query"}, {"required", false}};
        if (f->is_map()) {
          p["schema"] = {{"type", "array"}, {"items", {{"type", "string"}}}};
          p["description"] = "KEY=VALUE, as often as needed";
        } else {
          p["schema"] = schemas.field_schema(f);
          if (f->is_repeated()) p["explode"] = true;
        }
        params.push_back(p);
      }
    }
    if (!params.empty()) op["parameters"] = params;

    const pb::Descriptor* out = method->output_type();
    std::string out_ref = schema_ref(schemas.message_schema(out));
    ordered_json responses = ordered_json::object();
    if (method->client_streaming()) {
      // Attach and Exec: both directions at once, so a WebSocket (one JSON message a frame).
      op["description"] =
          "A WebSocket (send Connection: Upgrade, Upgrade: websocket): the client's frames are " +
          in->full_name() + " messages in JSON after the first (which the path and query make), "
          "svcd's frames are " + out->full_name() + " messages.";
      responses["101"] = {{"description", "switching to a WebSocket"}};
    } else if (method->server_streaming()) {
      op["description"] =
          "A stream: chunked NDJSON, one " + out->full_name() +
          " a line (or Server-Sent Events with Accept: text/event-stream). An error after the "
          "answer began arrives as a last line {\"error\": {...}}.";
      ordered_json item = {{"schema", {{"$ref", out_ref}}}};
      responses["200"] = {{"description", "one message a line, as they happen"},
                          {"content", {{"application/x-ndjson", item},
                                       {"text/event-stream", item}}}};
    } else {
      responses["200"] = {
          {"description", "the answer"},
          {"content", {{"application/json", {{"schema", {{"$ref", out_ref}}}}}}}};
    }
    for (const auto& [code, r] : errors.items()) responses[code] = r;
    op["responses"] = responses;
    paths[path][http_method] = op;
  }

  // Served beside the API's routes.
  paths["/healthz"]["get"] = {
      {"operationId", "healthz"},
      {"summary", "liveness: \"ok\" while svcd serves (no token needed)"},
      {"security", ordered_json::array()},
      {"responses", {{"200", {{"description", "ok"}, {"content", {{"text/plain", {{"schema", {{"type", "string"}}}}}}}}}}}};
  paths["/metrics"]["get"] = {
      {"operationId", "metrics"},
      {"summary", "Prometheus metrics of the node (text exposition format 0.0.4)"},
      {"responses",
       {{"200",
         {{"description", "the metrics"},
          {"content", {{"text/plain", {{"schema", {{"type", "string"}}}}}}}}}}}};
  paths["/v1/openapi.json"]["get"] = {
      {"operationId", "openapi"},
      {"summary", "this document"},
      {"responses",
       {{"200",
         {{"description", "OpenAPI 3.0"},
          {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}}}}}};

  for (const char* extra : {"/healthz", "/metrics", "/v1/openapi.json"})
    paths[extra]["get"]["responses"]["default"] = errors["default"];

  ordered_json components = {
      {"schemas", schemas.take()},
      {"responses",
       {{"Error",
         {{"description", "an error: the gRPC code's name and what went wrong"},
          {"content",
           {{"application/json", {{"schema", {{"$ref", schema_ref("svc.Error")}}}}}}}}}}},
      {"securitySchemes",
       {{"bearer",
         {{"type", "http"},
          {"scheme", "bearer"},
          {"description",
           "A token from `svctl token create`, needed on a TCP address; the unix socket needs "
           "none (its mode and group decide who may connect)."}}}}}};
  components["schemas"]["svc.Error"] = {
      {"type", "object"},
      {"properties",
       {{"code", {{"type", "string"}, {"description", "the gRPC status code's name, NOT_FOUND"}}},
        {"message", {{"type", "string"}}}}},
      {"required", ordered_json::array({"code", "message"})}};

  ordered_json doc = {
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "svc API"},
        {"version", std::string(version)},
        {"description",
         "The REST face of svcd's API (api/proto/svc/v1): protobuf's JSON mapping, with the "
         "same methods as gRPC on the same socket. Made from the route table and the proto "
         "descriptors by svcd itself."}}},
      {"servers",
       ordered_json::array({ordered_json{
           {"url", "http://svcd"},
           {"description",
            "the unix socket: curl --unix-socket /run/svcd/svcd.sock http://svcd/..."}}})},
      {"security", ordered_json::array({ordered_json{{"bearer", ordered_json::array()}}})},
      {"tags", tags},
      {"paths", paths},
      {"components", components}};
  return doc.dump(2) + "\n";
}

}  // namespace svc::api
