#include "isolation/bridge.hpp"

#include "isolation/netns.hpp"

namespace svc::isolation {

Bridge::Bridge(BridgeOptions options, NetnsWorker& worker)
    : options_(std::move(options)), worker_(worker) {}

Result<> Bridge::ensure_bridge() {
  return fail(Code::kUnimplemented, "bridge networking is not built yet");
}

Result<BridgeAttachment> Bridge::attach(std::string_view, int) {
  SVC_TRY(ensure_bridge());
  return fail(Code::kUnimplemented, "bridge networking is not built yet");
}

Result<> Bridge::detach(std::string_view, std::string_view) {
  return fail(Code::kUnimplemented, "bridge networking is not built yet");
}

}  // namespace svc::isolation
