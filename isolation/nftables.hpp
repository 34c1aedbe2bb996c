#pragma once
// Runs an nftables script through libnftables (the library nft(8) is built on): one
// transaction per script, the kernel's error text in the Error. No process is spawned.
#include <string_view>

#include "common/result.hpp"

namespace svc::isolation {

Result<> run_nftables(std::string_view script);

}  // namespace svc::isolation
