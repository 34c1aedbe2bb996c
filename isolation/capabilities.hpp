#pragma once
// Capability names as OCI configs and /proc/<pid>/status spell them, and their numbers
// (linux/capability.h). Sets are bit masks: bit N = capability N.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svc::isolation {

// The highest capability number this build knows (CAP_CHECKPOINT_RESTORE, Linux 5.9).
inline constexpr int kLastKnownCap = 40;

// "CAP_CHOWN", "chown" and "CHOWN" are all 0; nullopt for a name this build does not know.
std::optional<int> capability_from_name(std::string_view name);
// "CAP_CHOWN"; "CAP_<n>" for a number past kLastKnownCap.
std::string capability_name(int cap);
std::vector<std::string> capability_names(std::uint64_t mask);
// Unknown names are skipped (as runc does) unless strict; strict makes them INVALID_ARGUMENT.
Result<std::uint64_t> capability_mask(const std::vector<std::string>& names, bool strict = false);

}  // namespace svc::isolation
