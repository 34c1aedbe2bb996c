#include "images/unpack/byte_stream.hpp"

#include <unistd.h>

#include <cstring>

namespace svc::images::unpack {

Result<std::size_t> FdSource::read(char* buf, std::size_t cap) {
  for (;;) {
    ssize_t n = ::read(fd_, buf, cap);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return fail_errno("read blob");
  }
}

Result<> BytePipe::push(const char* data, std::size_t size) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return error_ || buffered_ < capacity_; });
  if (error_) return tl::unexpected(*error_);
  chunks_.emplace_back(data, size);
  buffered_ += size;
  cv_.notify_all();
  return {};
}

void BytePipe::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

void BytePipe::abort(Error error) {
  std::lock_guard lock(mu_);
  if (!error_) error_ = std::move(error);
  cv_.notify_all();
}

Result<std::size_t> BytePipe::read(char* buf, std::size_t cap) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return error_ || !chunks_.empty() || closed_; });
  if (error_) return tl::unexpected(*error_);
  std::size_t got = 0;
  while (got < cap && !chunks_.empty()) {
    std::string& front = chunks_.front();
    std::size_t n = std::min(cap - got, front.size() - front_off_);
    std::memcpy(buf + got, front.data() + front_off_, n);
    got += n;
    front_off_ += n;
    if (front_off_ == front.size()) {
      chunks_.pop_front();
      front_off_ = 0;
    }
  }
  buffered_ -= got;
  cv_.notify_all();
  return got;
}

}  // namespace svc::images::unpack
