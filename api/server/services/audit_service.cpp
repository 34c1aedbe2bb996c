#include "api/server/services/audit_service.hpp"

#include <array>

#include <google/protobuf/descriptor.h>
#include <spdlog/spdlog.h>

#include "api/server/services/proto_time.hpp"
#include "common/result.hpp"

#include "svc/v1/audit.pb.h"

namespace svc::api {

namespace pb = google::protobuf;

namespace {

constexpr int kDefaultLimit = 1000;
constexpr int kMaxLimit = 100'000;

// The first string field among names, at the top level of m.
std::string string_field(const pb::Message& m, std::initializer_list<std::string_view> names) {
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  for (auto name : names) {
    const pb::FieldDescriptor* f = d->FindFieldByName(std::string(name));
    if (!f || f->is_repeated() || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) continue;
    std::string v = r->GetString(m, f);
    if (!v.empty()) return v;
  }
  return {};
}

}  // namespace

bool is_mutating(const Dispatcher::Method& method) {
  std::string_view name = method.full_name;
  name = name.substr(name.find('/') + 1);
  static constexpr std::array<std::string_view, 8> kReads = {"List", "Get",    "Info",  "Logs",
                                                             "Wait", "Events", "Query", "Watch"};
  for (auto read : kReads)
    if (name.starts_with(read)) return false;
  return true;
}

std::string call_target(const pb::Message& request) {
  std::string t = string_field(request, {"id", "name", "reference", "path", "source"});
  if (!t.empty()) return t;
  const pb::FieldDescriptor* spec = request.GetDescriptor()->FindFieldByName("spec");
  if (spec && spec->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE && !spec->is_repeated() &&
      request.GetReflection()->HasField(request, spec)) {
    const pb::Message& s = request.GetReflection()->GetMessage(request, spec);
    t = string_field(s, {"name", "image"});
  }
  return t;
}

std::string principal_of(const CallContext& ctx) {
  switch (ctx.transport) {
    case CallContext::Transport::kUnix:
      return ctx.principal.empty() || ctx.principal == "unix" ? "unix" : ctx.principal;
    case CallContext::Transport::kTcp:
      if (ctx.principal.find(':') != std::string::npos) return ctx.principal;  // "cert:..."
      return "token:" + ctx.principal;
    case CallContext::Transport::kInProcess:
      return "in-process";
  }
  return ctx.principal;
}

void register_audit_service(Dispatcher& d, AuditBackend& backend, const Clock& clock) {
  d.set_observer([&backend, &clock](const Dispatcher::Method& m, const pb::Message& req,
                                    const CallContext& ctx, const Result<>& result) {
    if (!is_mutating(m)) return;
    AuditRecord r;
    r.at = clock.now();
    r.principal = principal_of(ctx);
    r.transport = ctx.transport == CallContext::Transport::kUnix  ? "unix"
                  : ctx.transport == CallContext::Transport::kTcp ? "tcp"
                                                                  : "in-process";
    r.peer = ctx.peer;
    r.method = m.full_name;
    r.target = call_target(req);
    r.code = result ? "OK" : std::string(code_name(result.error().code()));
    if (!result) r.message = result.error().message();
    if (auto ok = backend.append(r); !ok)
      spdlog::error("audit: could not record {} by {}: {}", r.method, r.principal,
                    ok.error().message());
  });
  d.unary<v1::ListAuditRequest, v1::ListAuditResponse>(
      "svc.v1.Audit/List",
      [&backend](const v1::ListAuditRequest& req, v1::ListAuditResponse& resp,
                 CallContext& ctx) -> Result<> {
        if (ctx.transport == CallContext::Transport::kTcp)
          return fail(Code::kPermissionDenied,
                      "the audit log is read on the node itself, over the unix socket");
        if (req.limit() < 0 || req.limit() > kMaxLimit)
          return fail(Code::kInvalidArgument, "limit: must be 0 (= {}) to {}", kDefaultLimit,
                      kMaxLimit);
        std::optional<std::chrono::system_clock::time_point> since;
        if (req.has_since()) since = from_timestamp(req.since());
        for (const auto& r :
             SVC_TRY(backend.list(since, req.limit() ? req.limit() : kDefaultLimit))) {
          v1::AuditEvent* e = resp.add_events();
          e->set_id(r.id);
          *e->mutable_at() = to_timestamp(r.at);
          e->set_principal(r.principal);
          e->set_transport(r.transport);
          e->set_peer(r.peer);
          e->set_method(r.method);
          e->set_target(r.target);
          e->set_code(r.code);
          e->set_message(r.message);
        }
        return {};
      });
}

}  // namespace svc::api
