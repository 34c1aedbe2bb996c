#pragma once
// File helpers used across modules: atomic writes (temp + fsync + rename + fsync of the
// directory), whole-file reads, directory creation.
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace svc {

// Whether an atomic write also reaches the disk before it returns.
enum class Flush {
  kToDisk,  // fsync the file before the rename and the directory after it: survives power loss
  // Rename only: no reader and no crash of any process ever sees a half-written file, but a
  // power loss may lose the new content. For records that describe only live processes (the
  // runtime's state.json, its id-range pool): a power loss ends every process they describe,
  // so two fsyncs per sandbox start (1-3 ms each on this kind of VM disk) would buy nothing.
  kNone,
};

// Writes data to path so that a reader (or a crash) sees either the old file or the new one,
// never a mix: a temp file in the same directory (mode exactly `mode`), rename; with
// Flush::kToDisk also fsync of the file before and of the directory after the rename.
Result<> write_file_atomic(const std::filesystem::path& path, std::string_view data,
                           mode_t mode = 0644, Flush flush = Flush::kToDisk);

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
