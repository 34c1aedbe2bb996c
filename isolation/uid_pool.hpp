#pragma once
// A pool of host uid/gid ranges, one per sandbox, far above normal users (default: blocks of
// 65536 from 1,000,000,000), so uid 0 inside a sandbox is an unprivileged host uid no other
// sandbox and no host user has. Allocations are persisted in a small text file so a re-adopted
// sandbox keeps its range after the daemon restarts; the file is shared safely between
// processes (svcd, svc-runtime) by an flock on "<file>.lock" and replaced atomically (without
// fsync: common/fs.hpp, Flush::kNone, says why).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svc::isolation {

struct IdRange {
  std::uint32_t host_base = 0;
  std::uint32_t size = 0;
  bool operator==(const IdRange&) const = default;
};

class UidPool {
 public:
  struct Options {
    std::filesystem::path file;          // e.g. <state>/uid-ranges
    std::uint32_t base = 1'000'000'000;  // first host id handed out
    std::uint32_t block = 65536;         // ids per sandbox
    std::uint32_t count = 16384;         // blocks in the pool
  };
  explicit UidPool(Options options);

  // The range owned by `owner` (a sandbox dir path), allocating the lowest free block when it
  // has none. RESOURCE_EXHAUSTED when every block is taken.
  Result<IdRange> allocate(std::string_view owner);
  Result<std::optional<IdRange>> find(std::string_view owner);
  // Releasing a range that is not allocated is not an error (remove() is idempotent).
  Result<> release(std::string_view owner);
  // Releases every range whose owner `drop` says is gone; returns those owners.
  Result<std::vector<std::string>> release_if(
      const std::function<bool(const std::string& owner)>& drop);

  const Options& options() const { return options_; }

 private:
  Options options_;
};

}  // namespace svc::isolation
