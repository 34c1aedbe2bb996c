// svctl run pulls the image first when svcd does not have it, so the user sees the progress.
#include <unistd.h>

#include <iostream>

#include "cli/context.hpp"

namespace svc::cli {

int ensure_image(Context& ctx, const std::string& image) {
  v1::GetImageRequest get;
  get.set_reference(image);
  v1::Image found;
  {
    auto call = ctx.client().context();
    auto status = ctx.client().images().Get(call.get(), get, &found);
    if (status.ok()) return kExitOk;
    // Not built into this svcd, or another answer than "not here": svcd pulls it itself when
    // the task starts and reports any failure on the task.
    if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return ctx.report(status);
      return kExitOk;
    }
  }
  v1::PullImageRequest req;
  req.set_reference(image);
  // Progress on stderr: stdout is the task's.
  auto status = pull_image(ctx, req, std::cerr, ::isatty(STDERR_FILENO) != 0, ctx.json(), nullptr);
  if (!status.ok()) return ctx.report(status);
  return kExitOk;
}

}  // namespace svc::cli
