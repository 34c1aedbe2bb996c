#include "images/content_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <system_error>

#include "common/fs.hpp"

namespace svc::images {

namespace fs = std::filesystem;

Result<> write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("write");
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

ContentStore::ContentStore(const fs::path& root) : dir_(root / "content") {}

Result<> ContentStore::init() {
  SVC_TRY_CTX(make_dirs(dir_ / "blobs" / "sha256", 0700), "content store");
  SVC_TRY_CTX(make_dirs(dir_ / "ingest", 0700), "content store");
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "ingest", ec)) fs::remove_all(e.path(), ec);
  return {};
}

fs::path ContentStore::blob_path(const Digest& d) const {
  return dir_ / "blobs" / "sha256" / d.hex();
}

bool ContentStore::has(const Digest& d) const {
  struct stat st {};
  return ::stat(blob_path(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<std::int64_t> ContentStore::size(const Digest& d) const {
  struct stat st {};
  if (::stat(blob_path(d).c_str(), &st) != 0)
    return fail(Code::kNotFound, "blob {} is not in the content store", d.str());
  return static_cast<std::int64_t>(st.st_size);
}

Result<std::string> ContentStore::read(const Digest& d, std::size_t max_bytes) const {
  if (!has(d)) return fail(Code::kNotFound, "blob {} is not in the content store", d.str());
  return read_file(blob_path(d), max_bytes);
}

Result<UniqueFd> ContentStore::open(const Digest& d) const {
  UniqueFd fd(::open(blob_path(d).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT)
      return fail(Code::kNotFound, "blob {} is not in the content store", d.str());
    return fail_errno(fmt::format("open blob {}", d.str()));
  }
  return fd;
}

Result<Digest> ContentStore::put(std::string_view data, const std::optional<Digest>& expected) {
  Digest actual = Digest::sha256_of(data);
  if (expected && actual != *expected)
    return fail(Code::kDataLoss, "content {} does not match its digest {} ({} bytes)", actual.str(),
                expected->str(), data.size());
  if (has(actual)) return actual;
  auto w = SVC_TRY(writer(actual, static_cast<std::int64_t>(data.size())));
  SVC_TRY(w->write(data.data(), data.size()));
  SVC_TRY(w->commit());
  return actual;
}

Result<std::unique_ptr<BlobWriter>> ContentStore::writer(const Digest& expected,
                                                         std::int64_t expected_size) {
  fs::path tmp = dir_ / "ingest" /
                 fmt::format("{}-{}", expected.empty() ? "unknown" : expected.hex(), random_hex(6));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return fail_errno(fmt::format("create temp blob {}", tmp.string()));
  return std::unique_ptr<BlobWriter>(
      new BlobWriter(*this, expected, expected_size, std::move(tmp), std::move(fd)));
}

std::vector<Digest> ContentStore::list() const {
  std::vector<Digest> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "blobs" / "sha256", ec)) {
    auto d = Digest::parse("sha256:" + e.path().filename().string());
    if (d) out.push_back(*d);
  }
  return out;
}

Result<std::int64_t> ContentStore::remove(const Digest& d) {
  struct stat st {};
  fs::path p = blob_path(d);
  if (::stat(p.c_str(), &st) != 0) return std::int64_t{0};
  if (::unlink(p.c_str()) != 0 && errno != ENOENT)
    return fail_errno(fmt::format("remove blob {}", p.string()));
  return static_cast<std::int64_t>(st.st_size);
}

BlobWriter::BlobWriter(ContentStore& store, Digest expected, std::int64_t expected_size,
                       fs::path tmp, UniqueFd fd)
    : store_(store),
      expected_(std::move(expected)),
      expected_size_(expected_size),
      tmp_(std::move(tmp)),
      fd_(std::move(fd)) {}

BlobWriter::~BlobWriter() {
  if (!committed_) ::unlink(tmp_.c_str());
}

Result<> BlobWriter::write(const void* data, std::size_t size) {
  if (expected_size_ >= 0 && written_ + static_cast<std::int64_t>(size) > expected_size_)
    return fail(Code::kDataLoss,
                "blob {} is longer than the {} bytes its descriptor states: refused",
                expected_.str(), expected_size_);
  hash_.update(data, size);
  SVC_TRY_CTX(write_all(fd_.get(), data, size), "store blob {}", expected_.short_str());
  written_ += static_cast<std::int64_t>(size);
  // Start writeback of every 8 MiB as it completes (sync_file_range(2), non-blocking), so the
  // fdatasync in commit() has little left to wait for.
  constexpr std::int64_t kFlushEvery = 8 << 20;
  if (written_ - flushed_ >= kFlushEvery) {
    ::sync_file_range(fd_.get(), flushed_, written_ - flushed_, SYNC_FILE_RANGE_WRITE);
    flushed_ = written_;
  }
  return {};
}

Digest BlobWriter::finish_digest() {
  if (!final_) final_ = hash_.finish();
  return *final_;
}

Result<> BlobWriter::commit() {
  Digest actual = finish_digest();
  if (expected_size_ >= 0 && written_ != expected_size_)
    return fail(Code::kDataLoss, "blob {}: got {} bytes, its descriptor states {}: refused",
                expected_.str(), written_, expected_size_);
  Digest target = expected_.empty() ? actual : expected_;
  if (actual != target)
    return fail(Code::kDataLoss,
                "blob {}: the {} bytes received hash to {}: the registry (or something between) "
                "sent other content; nothing was stored",
                target.str(), written_, actual.str());
  // fdatasync before rename: a blob under its digest's name is always complete, even after a
  // power cut.
  if (::fdatasync(fd_.get()) != 0) return fail_errno(fmt::format("sync blob {}", target.str()));
  fd_.reset();
  fs::path dest = store_.blob_path(target);
  if (::rename(tmp_.c_str(), dest.c_str()) != 0)
    return fail_errno(fmt::format("rename blob into {}", dest.string()));
  committed_ = true;
  return {};
}

}  // namespace svc::images
