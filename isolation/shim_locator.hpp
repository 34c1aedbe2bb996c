#pragma once
// Where the svc-shim binary is: $SVC_SHIM, else next to the running program, else in the build
// tree beside it, else the libexec dirs an install uses.
#include <filesystem>

namespace svc::isolation {

std::filesystem::path find_shim();
// The same search for svc-init (the optional PID 1 of a task, isolation/init/): $SVC_INIT, beside
// the program, the build tree, the libexec dirs.
std::filesystem::path find_init();

}  // namespace svc::isolation
