#pragma once
// The content-addressed blob store: <root>/content/blobs/sha256/<hex>. A blob enters only
// through a BlobWriter that hashes and counts every byte as it streams into a temp file under
// <root>/content/ingest/ and renames it into place only when both the digest and the exact size
// match what the manifest promised; a failed or abandoned write leaves nothing behind. Blobs are
// immutable once present, so readers need no locks.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.hpp"
#include "common/fd.hpp"
#include "common/result.hpp"

namespace svc::images {

class BlobWriter;

class ContentStore {
 public:
  // root: the images root (svcd's state dir); blobs live in root/content.
  explicit ContentStore(const std::filesystem::path& root);

  // Creates the directories and removes temp files a crash left in ingest/.
  Result<> init();

  std::filesystem::path blob_path(const Digest& digest) const;
  bool has(const Digest& digest) const;
  // The blob's size, or NotFound.
  Result<std::int64_t> size(const Digest& digest) const;
  Result<std::string> read(const Digest& digest, std::size_t max_bytes = 16 << 20) const;
  Result<UniqueFd> open(const Digest& digest) const;

  // Stores a small blob held in memory (manifests, configs); verifies it when expected is set.
  Result<Digest> put(std::string_view data, const std::optional<Digest>& expected = std::nullopt);

  // A writer for a blob of a known digest and size (size < 0: not known, e.g. an import).
  Result<std::unique_ptr<BlobWriter>> writer(const Digest& expected, std::int64_t expected_size);

  std::vector<Digest> list() const;
  // Deletes a blob; returns the bytes freed (0 if it was not there).
  Result<std::int64_t> remove(const Digest& digest);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  friend class BlobWriter;
  std::filesystem::path dir_;  // root/content
};

// One blob being written. Owns the temp file's fd; the temp file is unlinked when the writer is
// destroyed without a successful commit().
class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  // Hashes and appends. Fails as soon as more bytes arrive than the expected size.
  Result<> write(const void* data, std::size_t size);
  std::int64_t written() const { return written_; }
  // Verifies digest and size, fsyncs, renames into blobs/sha256/<hex>. An already present blob
  // (another pull won the race) is fine: the temp file is dropped.
  Result<> commit();
  // The digest of what was written so far (for writers of unknown digest; ends the writer).
  Digest finish_digest();

 private:
  friend class ContentStore;
  BlobWriter(ContentStore& store, Digest expected, std::int64_t expected_size,
             std::filesystem::path tmp, UniqueFd fd);
  ContentStore& store_;
  Digest expected_;
  std::int64_t expected_size_;
  std::filesystem::path tmp_;
  UniqueFd fd_;
  Sha256 hash_;
  std::int64_t written_ = 0;
  std::int64_t flushed_ = 0;  // bytes whose writeback was started
  bool committed_ = false;
  std::optional<Digest> final_;
};

// Writes all of data to fd (retrying short writes and EINTR).
Result<> write_all(int fd, const void* data, std::size_t size);

}  // namespace svc::images
