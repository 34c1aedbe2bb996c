#include "isolation/nftables.hpp"

#include <nftables/libnftables.h>

#include <memory>
#include <string>

namespace svc::isolation {

Result<> run_nftables(std::string_view script) {
  // A context per call: bridge set-up and teardown are rare, and a context is not thread-safe.
  std::unique_ptr<nft_ctx, decltype(&nft_ctx_free)> ctx(nft_ctx_new(NFT_CTX_DEFAULT),
                                                        &nft_ctx_free);
  if (!ctx) return fail(Code::kInternal, "nftables: cannot create a context (out of memory?)");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  std::string text(script);
  if (nft_run_cmd_from_buffer(ctx.get(), text.c_str()) != 0) {
    std::string err = nft_ctx_get_error_buffer(ctx.get());
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    return fail(Code::kUnavailable,
                "nftables: {} (is the nf_tables kernel module available? svcd needs "
                "CAP_NET_ADMIN)",
                err.empty() ? "the kernel refused the rules" : err);
  }
  return {};
}

}  // namespace svc::isolation
