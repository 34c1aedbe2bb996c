#pragma once
// Where the svc-shim binary is: $SVC_SHIM, else next to the running program, else in the build
// tree beside it, else the libexec dirs an install uses.
#include <filesystem>

namespace svc::isolation {

std::filesystem::path find_shim();

}  // namespace svc::isolation
