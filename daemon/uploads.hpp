#pragma once
// Archives sent to svcd over the API (Images.Upload) until Images.Import reads them: so a
// caller imports what it can read itself, over the unix socket or TCP, instead of naming a path
// that svcd would read as root.
//
// One file per upload under dir (<state_dir>/uploads, 0700), written at the offset the caller
// says (it must be the size received so far: a retried chunk is refused, not appended twice).
// An upload nobody touched for idle_expiry is removed; at most max_open at once. Uploads left
// by a previous svcd are removed at construction: their callers are gone.
//
// Owns the files and their fds; a Taken upload's file is removed when the Taken is destroyed.
// Thread-safe.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace svc::daemon {

class UploadStore {
 public:
  struct Options {
    std::filesystem::path dir;
    std::size_t max_open = 8;
    std::chrono::milliseconds idle_expiry = std::chrono::minutes(10);
    std::function<std::chrono::steady_clock::time_point()> now = [] {
      return std::chrono::steady_clock::now();
    };
  };

  // A finished upload, out of the store: its file until destroyed.
  class Taken {
   public:
    explicit Taken(std::filesystem::path path) : path_(std::move(path)) {}
    ~Taken();
    Taken(const Taken&) = delete;
    Taken& operator=(const Taken&) = delete;
    const std::filesystem::path& path() const { return path_; }

   private:
    std::filesystem::path path_;
  };

  static Result<std::unique_ptr<UploadStore>> open(Options options);

  // A new, empty upload: its id (32 hex digits, unguessable: the id is what lets a caller
  // append to it). RESOURCE_EXHAUSTED when max_open are in progress.
  Result<std::string> create();
  // Appends data at offset, which must be the upload's size; returns the new size.
  // NOT_FOUND for an unknown or expired id; FAILED_PRECONDITION naming the size otherwise.
  Result<std::int64_t> append(std::string_view id, std::int64_t offset, std::string_view data);
  // Ends the upload: from here its file belongs to the caller.
  Result<std::unique_ptr<Taken>> take(std::string_view id);

  std::size_t open_count();

 private:
  struct Upload {
    UniqueFd fd;
    std::int64_t size = 0;
    std::chrono::steady_clock::time_point touched;
    bool busy = false;  // an append is writing: not expired, not taken
  };
  explicit UploadStore(Options options) : options_(std::move(options)) {}
  void expire_locked();
  std::filesystem::path path_of(std::string_view id) const;

  Options options_;
  std::mutex mu_;
  std::map<std::string, Upload, std::less<>> uploads_;
};

}  // namespace svc::daemon
