#include "api/server/services/token_service.hpp"

#include <google/protobuf/util/time_util.h>

#include "api/server/services/proto_time.hpp"

#include "svc/v1/tokens.pb.h"

namespace svc::api {

namespace {

using google::protobuf::util::TimeUtil;

void to_proto(const TokenRecord& r, v1::TokenInfo* out) {
  out->set_id(r.id);
  out->set_name(r.name);
  *out->mutable_created_at() = to_timestamp(r.created_at);
  if (r.expires_at) *out->mutable_expires_at() = to_timestamp(*r.expires_at);
  if (r.last_used_at) *out->mutable_last_used_at() = to_timestamp(*r.last_used_at);
  out->set_revoked(r.revoked);
}

Result<> local_only(const CallContext& ctx) {
  if (ctx.transport == CallContext::Transport::kTcp)
    return fail(Code::kPermissionDenied,
                "tokens are managed on the node itself, over the unix socket");
  return {};
}

}  // namespace

void register_token_service(Dispatcher& d, TokenBackend& backend) {
  d.unary<v1::CreateTokenRequest, v1::CreateTokenResponse>(
      "svc.v1.Tokens/Create",
      [&backend](const v1::CreateTokenRequest& req, v1::CreateTokenResponse& resp,
                 CallContext& ctx) -> Result<> {
        SVC_TRY(local_only(ctx));
        if (req.name().empty() || req.name().size() > 64)
          return fail(Code::kInvalidArgument, "name: give the token a name of 1 to 64 characters");
        if (req.ttl().seconds() < 0)
          return fail(Code::kInvalidArgument, "ttl: must not be negative");
        auto ttl = std::chrono::milliseconds(TimeUtil::DurationToMilliseconds(req.ttl()));
        auto [record, secret] = SVC_TRY(backend.create(req.name(), ttl));
        to_proto(record, resp.mutable_info());
        resp.set_token(secret);
        return {};
      });
  d.unary<v1::ListTokensRequest, v1::ListTokensResponse>(
      "svc.v1.Tokens/List",
      [&backend](const v1::ListTokensRequest&, v1::ListTokensResponse& resp,
                 CallContext& ctx) -> Result<> {
        SVC_TRY(local_only(ctx));
        for (const auto& r : SVC_TRY(backend.list())) to_proto(r, resp.add_tokens());
        return {};
      });
  d.unary<v1::RevokeTokenRequest, v1::TokenInfo>(
      "svc.v1.Tokens/Revoke",
      [&backend](const v1::RevokeTokenRequest& req, v1::TokenInfo& resp,
                 CallContext& ctx) -> Result<> {
        SVC_TRY(local_only(ctx));
        if (req.id().empty()) return fail(Code::kInvalidArgument, "id: which token to revoke");
        to_proto(SVC_TRY(backend.revoke(req.id())), &resp);
        return {};
      });
}

}  // namespace svc::api
