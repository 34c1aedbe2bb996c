#pragma once
// File helpers used across modules: atomic writes (temp + fsync + rename + fsync of the
// directory), whole-file reads, directory creation.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace svc {

// Writes data to path so that a reader (or a crash) sees either the old file or the new one,
// never a mix: a temp file in the same directory, fsync, rename, fsync of the directory.
Result<> write_file_atomic(const std::filesystem::path& path, std::string_view data,
                           mode_t mode = 0644);

Result<std::string> read_file(const std::filesystem::path& path,
                              std::size_t max_bytes = 64 * 1024 * 1024);

// mkdir -p with a mode for the directories it creates.
Result<> make_dirs(const std::filesystem::path& path, mode_t mode = 0755);

// A directory removed (recursively) when the object is destroyed; for tests and scratch space.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "svc-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace svc
