#pragma once
// A connection's read buffer: bytes are read into its free tail, parsed in place (heads and body
// pieces are views into it) and consumed from the front. It moves bytes (compacting) only when
// the caller allows it — never while views into it are still in use — and grows only up to a
// limit, so a slow or hostile peer cannot make it hold more than that.
// Owned by one connection; used on its io thread only.
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace svc::ingress {

class IoBuffer {
 public:
  explicit IoBuffer(std::size_t initial) : data_(new char[initial]), cap_(initial) {}

  std::string_view view() const { return {data_.get() + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::size_t capacity() const { return cap_; }

  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ >= end_) begin_ = end_ = 0;  // nothing left: start over at the front
  }

  // Space to read at least one byte into, or an empty span when the buffer is at max and full
  // (the caller's limit was reached). may_move: no view into the buffer is in use.
  std::span<char> prepare(std::size_t max, bool may_move) {
    if (end_ < cap_) return {data_.get() + end_, cap_ - end_};
    if (may_move && begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      return {data_.get() + end_, cap_ - end_};
    }
    if (cap_ >= max || !may_move) return {};  // growing moves the bytes too
    std::size_t cap = std::min(max, cap_ * 2);
    std::unique_ptr<char[]> bigger(new char[cap]);
    std::memcpy(bigger.get(), data_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    data_ = std::move(bigger);
    cap_ = cap;
    return {data_.get() + end_, cap_ - end_};
  }
  void commit(std::size_t n) { end_ += n; }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t cap_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace svc::ingress
