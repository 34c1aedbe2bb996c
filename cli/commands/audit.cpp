// svctl audit: who changed what on this node, and how it ended (Audit.List). Read on the node
// itself, over the unix socket, as root or a member of group svc.
#include <iostream>

#include <google/protobuf/util/time_util.h>

#include "cli/context.hpp"
#include "common/units.hpp"

namespace svc::cli {

namespace {

using google::protobuf::util::TimeUtil;

// "10m" (that long ago) or an RFC 3339 time.
Result<google::protobuf::Timestamp> parse_since(const std::string& text) {
  google::protobuf::Timestamp t;
  if (auto d = parse_duration(text); d) {
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    return TimeUtil::MillisecondsToTimestamp((now - *d).count());
  }
  if (TimeUtil::FromString(text, &t)) return t;
  return fail(Code::kInvalidArgument,
              "--since {}: give a duration (10m, 24h) or an RFC 3339 time (2026-11-22T10:00:00Z)",
              text);
}

// What the table shows of a result: "OK", or the code and the message.
std::string result_cell(const v1::AuditEvent& e) {
  if (e.code() == "OK") return "OK";
  return e.message().empty() ? e.code() : fmt::format("{}: {}", e.code(), e.message());
}

}  // namespace

void add_audit_command(CLI::App& app, Context& ctx) {
  struct Opts {
    std::string since;
    int limit = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "audit", "who changed what on this node: every mutating API call, newest first");
  cmd->add_option("--since", o->since,
                  "only calls since then: a duration (10m, 24h) or an RFC 3339 time");
  cmd->add_option("-n,--limit", o->limit, "at most this many calls (default 1000)")
      ->check(CLI::Range(1, 100'000));
  set_runner(cmd, [&ctx, o]() -> int {
    v1::ListAuditRequest req;
    if (!o->since.empty()) {
      auto since = parse_since(o->since);
      if (!since) return ctx.report(since.error());
      *req.mutable_since() = *since;
    }
    req.set_limit(o->limit);
    v1::ListAuditResponse resp;
    auto call = ctx.client().context();
    auto status = ctx.client().audit().List(call.get(), req, &resp);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, resp);
      return kExitOk;
    }
    Table t({"TIME", "WHO", "FROM", "CALL", "TARGET", "RESULT"});
    for (const auto& e : resp.events()) {
      std::string method = e.method();
      if (method.starts_with("svc.v1.")) method = method.substr(7);
      t.add({TimeUtil::ToString(e.at()), e.principal(), e.peer().empty() ? e.transport() : e.peer(),
             method, e.target().empty() ? "-" : e.target(), result_cell(e)});
    }
    t.print(std::cout);
    return kExitOk;
  });
}

}  // namespace svc::cli
