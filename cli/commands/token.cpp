#include <iostream>

#include <google/protobuf/util/time_util.h>

#include "cli/context.hpp"
#include "common/units.hpp"

namespace svc::cli {

namespace {
std::string when(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return google::protobuf::util::TimeUtil::ToString(t);
}
}  // namespace

void add_token_commands(CLI::App& app, Context& ctx) {
  auto* token = app.add_subcommand("token", "API tokens for TCP access");
  token->require_subcommand(1);

  auto* create = token->add_subcommand("create", "create a token; it is shown once");
  static std::string name, ttl;
  create->add_option("name", name, "a name that says who uses the token")->required();
  create->add_option("--ttl", ttl, "expire after this long (90d, 12h); default never");
  set_runner(create, [&ctx]() -> int {
    v1::CreateTokenRequest req;
    req.set_name(name);
    if (!ttl.empty()) {
      auto d = parse_duration(ttl);
      if (!d) return ctx.report(d.error().context("--ttl"));
      *req.mutable_ttl() = google::protobuf::util::TimeUtil::MillisecondsToDuration(d->count());
    }
    v1::CreateTokenResponse resp;
    auto call = ctx.client().context();
    auto status = ctx.client().tokens().Create(call.get(), req, &resp);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, resp);
    } else {
      std::cout << resp.token() << "\n";
      std::cerr << "Token " << resp.info().id() << " (" << resp.info().name()
                << ") created. It is shown only this once: keep it somewhere safe.\n";
    }
    return kExitOk;
  });

  auto* ls = token->add_subcommand("ls", "list tokens (never their secrets)");
  set_runner(ls, [&ctx]() -> int {
    v1::ListTokensResponse resp;
    auto call = ctx.client().context();
    auto status = ctx.client().tokens().List(call.get(), v1::ListTokensRequest(), &resp);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, resp);
      return kExitOk;
    }
    Table t({"ID", "NAME", "CREATED", "EXPIRES", "LAST USED", "REVOKED"});
    for (const auto& tk : resp.tokens())
      t.add({tk.id(), tk.name(), when(tk.created_at()), when(tk.expires_at()),
             when(tk.last_used_at()), tk.revoked() ? "yes" : "no"});
    t.print(std::cout);
    return kExitOk;
  });

  auto* revoke = token->add_subcommand("revoke", "revoke a token at once");
  static std::string id;
  revoke->add_option("id", id, "the token's id (from `svctl token ls`)")->required();
  set_runner(revoke, [&ctx]() -> int {
    v1::RevokeTokenRequest req;
    req.set_id(id);
    v1::TokenInfo resp;
    auto call = ctx.client().context();
    auto status = ctx.client().tokens().Revoke(call.get(), req, &resp);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json())
      print_json(std::cout, resp);
    else
      std::cout << "Revoked token " << resp.id() << " (" << resp.name() << ")\n";
    return kExitOk;
  });
}

}  // namespace svc::cli
