#include "api/server/rest_routes.hpp"

#include <google/protobuf/descriptor.h>
#include <nlohmann/json.hpp>

#include "api/json.hpp"

namespace svc::api {

namespace pb = google::protobuf;

const std::vector<RestRoute>& rest_routes() {
  static const std::vector<RestRoute> kRoutes = {
      {"GET", "/v1/node", "svc.v1.Node/Info"},
      {"POST", "/v1/node:drain", "svc.v1.Node/Drain", true},
      {"POST", "/v1/node:resume", "svc.v1.Node/Resume"},

      {"POST", "/v1/tasks", "svc.v1.Tasks/Run", true},
      {"GET", "/v1/tasks", "svc.v1.Tasks/List"},
      {"POST", "/v1/tasks/{id}:stop", "svc.v1.Tasks/Stop", true},
      {"POST", "/v1/tasks/{id}:wait", "svc.v1.Tasks/Wait"},
      {"GET", "/v1/tasks/{id}:wait", "svc.v1.Tasks/Wait"},
      {"GET", "/v1/tasks/{id}/logs", "svc.v1.Tasks/Logs"},
      // WebSockets (rest_websocket.hpp): the path and query are the first message.
      {"GET", "/v1/tasks/{id}:attach", "svc.v1.Tasks/Attach"},
      {"GET", "/v1/tasks/{id}:exec", "svc.v1.Tasks/Exec"},
      {"GET", "/v1/tasks/{id}", "svc.v1.Tasks/Get"},
      {"DELETE", "/v1/tasks/{id}", "svc.v1.Tasks/Delete"},
      {"GET", "/v1/events", "svc.v1.Tasks/Events"},

      {"POST", "/v1/images:pull", "svc.v1.Images/Pull", true},
      {"POST", "/v1/images:import", "svc.v1.Images/Import", true},
      {"POST", "/v1/images:upload", "svc.v1.Images/Upload", true},
      {"POST", "/v1/images:prune", "svc.v1.Images/Prune", true},
      {"GET", "/v1/images", "svc.v1.Images/List"},
      {"GET", "/v1/images/{reference=**}", "svc.v1.Images/Get"},
      {"DELETE", "/v1/images/{reference=**}", "svc.v1.Images/Remove"},

      {"POST", "/v1/services", "svc.v1.Services/Deploy", true},
      {"GET", "/v1/services", "svc.v1.Services/List"},
      {"GET", "/v1/services/{name}/logs", "svc.v1.Services/Logs"},
      {"GET", "/v1/services/{name}/instances", "svc.v1.Services/ListInstances"},
      {"GET", "/v1/services/{name}", "svc.v1.Services/Get"},
      {"DELETE", "/v1/services/{name}", "svc.v1.Services/Delete"},

      {"GET", "/v1/usage", "svc.v1.Usage/Query"},
      {"GET", "/v1/usage/records", "svc.v1.Usage/Records"},

      {"POST", "/v1/schedules", "svc.v1.Schedules/Create", true},
      {"POST", "/v1/schedules/{name}:pause", "svc.v1.Schedules/Pause"},
      {"POST", "/v1/schedules/{name}:resume", "svc.v1.Schedules/Resume"},
      {"POST", "/v1/schedules/{name}:run", "svc.v1.Schedules/RunNow"},
      {"GET", "/v1/schedules", "svc.v1.Schedules/List"},
      {"GET", "/v1/schedules/{name}", "svc.v1.Schedules/Get"},
      {"DELETE", "/v1/schedules/{name}", "svc.v1.Schedules/Delete"},

      {"POST", "/v1/triggers/{name}:fire", "svc.v1.Triggers/Fire", true},
      {"POST", "/v1/triggers", "svc.v1.Triggers/Create", true},
      {"GET", "/v1/triggers", "svc.v1.Triggers/List"},
      {"DELETE", "/v1/triggers/{name}", "svc.v1.Triggers/Delete"},

      {"GET", "/v1/audit", "svc.v1.Audit/List"},
      {"POST", "/v1/tokens", "svc.v1.Tokens/Create", true},
      {"GET", "/v1/tokens", "svc.v1.Tokens/List"},
      {"POST", "/v1/tokens/{id}:revoke", "svc.v1.Tokens/Revoke"},
  };
  return kRoutes;
}

Result<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      int hi = i + 1 < text.size() ? hex(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? hex(text[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return fail(Code::kInvalidArgument, "bad percent-encoding in \"{}\"", text);
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

// Matches path against pattern; fills params (decoded). The verb (":stop") must match exactly.
bool match_pattern(std::string_view pattern, std::string_view path,
                   std::vector<std::pair<std::string, std::string>>& params) {
  params.clear();
  std::string_view verb;
  if (auto colon = pattern.rfind(':');
      colon != std::string_view::npos && pattern.find('}', colon) == std::string_view::npos) {
    verb = pattern.substr(colon);
    pattern = pattern.substr(0, colon);
    if (!path.ends_with(verb)) return false;
    path.remove_suffix(verb.size());
  }
  std::size_t pi = 0, si = 0;
  while (pi < pattern.size()) {
    if (pattern[pi] == '{') {
      std::size_t close = pattern.find('}', pi);
      std::string_view var = pattern.substr(pi + 1, close - pi - 1);
      bool rest = false;
      if (auto eq = var.find('='); eq != std::string_view::npos) {
        rest = var.substr(eq + 1) == "**";
        var = var.substr(0, eq);
      }
      std::size_t end = rest ? path.size() : path.find('/', si);
      if (end == std::string_view::npos) end = path.size();
      std::string_view raw = path.substr(si, end - si);
      if (raw.empty()) return false;
      // Without a verb in the pattern, a ':' in a single segment would be a verb we do not have.
      if (!rest && verb.empty() && raw.find(':') != std::string_view::npos) return false;
      auto decoded = percent_decode(raw, false);
      if (!decoded) return false;
      params.emplace_back(std::string(var), *decoded);
      si = end;
      pi = close + 1;
      continue;
    }
    if (si >= path.size() || path[si] != pattern[pi]) return false;
    ++si;
    ++pi;
  }
  return si == path.size();
}

const pb::FieldDescriptor* find_field(const pb::Descriptor* d, std::string_view name) {
  std::string n(name);
  if (const auto* f = d->FindFieldByName(n)) return f;
  for (int i = 0; i < d->field_count(); ++i)
    if (d->field(i)->json_name() == n) return d->field(i);
  return nullptr;
}

Result<nlohmann::json> scalar_json(const pb::FieldDescriptor* f, const std::string& value,
                                   std::string_view param) {
  using FD = pb::FieldDescriptor;
  switch (f->cpp_type()) {
    case FD::CPPTYPE_BOOL:
      if (value.empty() || value == "true" || value == "1") return nlohmann::json(true);
      if (value == "false" || value == "0") return nlohmann::json(false);
      return fail(Code::kInvalidArgument, "query parameter {}: \"{}\" is not true or false", param,
                  value);
    case FD::CPPTYPE_ENUM: {
      std::string upper;
      for (char c : value)
        upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
      if (!f->enum_type()->FindValueByName(upper))
        return fail(Code::kInvalidArgument, "query parameter {}: unknown value \"{}\"", param,
                    value);
      return nlohmann::json(upper);
    }
    case FD::CPPTYPE_MESSAGE:
    case FD::CPPTYPE_STRING:
    default:
      // Numbers as strings are accepted by the JSON mapping (and keep int64 exact).
      return nlohmann::json(value);
  }
}

}  // namespace

RestRouter::RestRouter(const Dispatcher& dispatcher) : dispatcher_(dispatcher) {}

Result<RouteMatch> RestRouter::match(std::string_view http_method, std::string_view path) const {
  RouteMatch m;
  bool path_matched = false;
  for (const RestRoute& route : rest_routes()) {
    if (!match_pattern(route.pattern, path, m.path_params)) continue;
    path_matched = true;
    if (route.http_method != http_method) continue;
    m.route = &route;
    m.method = dispatcher_.find(route.rpc);
    if (!m.method)
      return fail(Code::kInternal, "route {} names unknown method {}", route.pattern, route.rpc);
    return m;
  }
  if (path_matched)
    return fail(Code::kUnimplemented, "{} is not allowed on {} (allowed: {})", http_method, path,
                allowed_methods(path));
  return fail(Code::kNotFound, "no API route {} {}", http_method, path);
}

std::string RestRouter::allowed_methods(std::string_view path) const {
  std::string out;
  std::vector<std::pair<std::string, std::string>> params;
  for (const RestRoute& route : rest_routes()) {
    if (!match_pattern(route.pattern, path, params)) continue;
    if (out.find(route.http_method) != std::string::npos) continue;
    out += (out.empty() ? "" : ", ") + std::string(route.http_method);
  }
  return out;
}

Result<std::unique_ptr<pb::Message>> RestRouter::build_request(const RouteMatch& match,
                                                               std::string_view query,
                                                               std::string_view body) const {
  auto request = dispatcher_.new_request(*match.method);
  const pb::Descriptor* d = request->GetDescriptor();
  if (match.route->body) {
    std::string_view trimmed = body;
    while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front())))
      trimmed.remove_prefix(1);
    if (!trimmed.empty()) SVC_TRY(from_json(body, request.get()));
  } else if (!body.empty() && body.find_first_not_of(" \t\r\n") != std::string_view::npos) {
    return fail(Code::kInvalidArgument, "{} {} takes no request body", match.route->http_method,
                match.route->pattern);
  }
  nlohmann::json fields = nlohmann::json::object();
  auto set = [&](std::string_view name, const std::string& value, bool from_path) -> Result<> {
    std::string_view what = from_path ? "path variable" : "query parameter";
    // Map entries: labels=key=value (or labels.key=value).
    std::string_view key = name;
    std::string map_key;
    if (auto dot = name.find('.'); dot != std::string_view::npos) {
      key = name.substr(0, dot);
      map_key = std::string(name.substr(dot + 1));
    }
    const pb::FieldDescriptor* f = find_field(d, key);
    if (!f)
      return fail(Code::kInvalidArgument, "unknown {} \"{}\" for {}", what, name,
                  match.method->full_name);
    std::string json_name = f->json_name();
    if (f->is_map()) {
      std::string k = map_key, v = value;
      if (map_key.empty()) {
        auto eq = value.find('=');
        if (eq == std::string::npos)
          return fail(Code::kInvalidArgument, "{} {}: expected KEY=VALUE, got \"{}\"", what, name,
                      value);
        k = value.substr(0, eq);
        v = value.substr(eq + 1);
      }
      fields[json_name][k] = v;
      return {};
    }
    if (!map_key.empty()) return fail(Code::kInvalidArgument, "unknown {} \"{}\"", what, name);
    if (f->is_repeated()) {
      // Repeated fields take the parameter several times, or a comma-separated list.
      std::size_t start = 0;
      for (;;) {
        std::size_t comma = value.find(',', start);
        std::string part =
            value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        fields[json_name].push_back(SVC_TRY(scalar_json(f, part, name)));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    } else {
      fields[json_name] = SVC_TRY(scalar_json(f, value, name));
    }
    return {};
  };
  std::size_t pos = 0;
  while (pos < query.size()) {
    std::size_t amp = query.find('&', pos);
    std::string_view part =
        query.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
    pos = amp == std::string_view::npos ? query.size() : amp + 1;
    if (part.empty()) continue;
    auto eq = part.find('=');
    auto name = SVC_TRY(percent_decode(part.substr(0, eq), true));
    std::string value;
    if (eq != std::string_view::npos) value = SVC_TRY(percent_decode(part.substr(eq + 1), true));
    SVC_TRY(set(name, value, false));
  }
  for (const auto& [name, value] : match.path_params) SVC_TRY(set(name, value, true));
  if (!fields.empty()) {
    auto extra = dispatcher_.new_request(*match.method);
    SVC_TRY(from_json(fields.dump(), extra.get()));
    // Path variables replace whatever the body said for the same field.
    for (const auto& [name, value] : match.path_params) {
      if (const auto* f = find_field(d, name))
        request->GetReflection()->ClearField(request.get(), f);
    }
    request->MergeFrom(*extra);
  }
  return request;
}

}  // namespace svc::api
