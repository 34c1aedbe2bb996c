#pragma once
// Byte streams between the stages of a layer's pipeline: the download (a push: curl calls us
// with each chunk) feeds a BytePipe that the unpacker (a pull: libarchive asks for the next
// block) reads on its own thread. The pipe is bounded, so a slow disk slows the download instead
// of filling memory, and either side can abort the other with an error.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "common/result.hpp"

namespace svc::images::unpack {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to cap bytes into buf; 0 at the end of the stream.
  virtual Result<std::size_t> read(char* buf, std::size_t cap) = 0;
};

// A file descriptor read to its end (a blob already in the content store). Borrows the fd.
class FdSource final : public ByteSource {
 public:
  explicit FdSource(int fd) : fd_(fd) {}
  Result<std::size_t> read(char* buf, std::size_t cap) override;

 private:
  int fd_;
};

// Shared by exactly one writer thread and one reader thread.
class BytePipe final : public ByteSource {
 public:
  explicit BytePipe(std::size_t capacity_bytes = 8 << 20) : capacity_(capacity_bytes) {}

  // Writer side. push() blocks while the pipe is full; it fails once the reader aborted.
  Result<> push(const char* data, std::size_t size);
  void close();             // end of stream
  void abort(Error error);  // either side: wake the other with this error

  // Reader side.
  Result<std::size_t> read(char* buf, std::size_t cap) override;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  std::size_t front_off_ = 0;
  std::size_t buffered_ = 0;
  std::size_t capacity_;
  bool closed_ = false;
  std::optional<Error> error_;
};

}  // namespace svc::images::unpack
