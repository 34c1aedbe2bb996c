#pragma once
// <sandbox>/state.json: what the runtime records about a sandbox when it creates it (written
// atomically, never changed afterwards). Its live status comes from the shim and exit.json.
#include <sys/types.h>

#include <filesystem>

#include "common/result.hpp"
#include "isolation/runtime.hpp"

namespace svc::isolation {

struct SandboxRecord {
  SandboxInfo info;                  // status, shim_alive and exit are not stored
  unsigned long long pid_start = 0;  // /proc/<pid>/stat starttime: tells a reused pid apart
  std::string host_veth;             // bridge mode
};

Result<> write_sandbox_record(const std::filesystem::path& dir, const SandboxRecord& record);
Result<SandboxRecord> read_sandbox_record(const std::filesystem::path& dir);

// Field 22 of /proc/<pid>/stat (clock ticks after boot); 0 when the process is gone.
unsigned long long process_start_time(const std::filesystem::path& proc, pid_t pid);

}  // namespace svc::isolation
