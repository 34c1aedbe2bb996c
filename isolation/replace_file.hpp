#pragma once
// Replaces a file atomically (temp file in the same directory + rename) WITHOUT fsync. For the
// runtime's own records that only describe live processes (state.json, the id-range pool):
// they must never be seen half-written, which rename guarantees across a crash of any process,
// but a power loss ends every process they describe, so flushing them to disk on every sandbox
// start would buy nothing and cost two fsyncs (1-3 ms each on this kind of VM disk).
#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "common/result.hpp"

namespace svc::isolation {

Result<> replace_file(const std::filesystem::path& path, std::string_view data, mode_t mode = 0644);

}  // namespace svc::isolation
