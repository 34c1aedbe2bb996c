#include "isolation/attach_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "isolation/shim/protocol.hpp"
#include "isolation/shim_client.hpp"

namespace svc::isolation {

Result<std::unique_ptr<Attachment>> Attachment::open(const std::filesystem::path& dir,
                                                     std::string_view socket,
                                                     const AttachOptions& options,
                                                     const std::filesystem::path& proc) {
  std::unique_ptr<Attachment> a(new Attachment());
  a->fd_ = SVC_TRY(connect_unix(dir, socket, false, proc));
  std::string req = "attach";
  if (options.stdin) req += " stdin";
  if (options.start) req += " start";
  req += "\n";
  if (::send(a->fd_.get(), req.data(), req.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(req.size()))
    return fail(Code::kUnavailable, "the shim at {} went away", dir.string());
  // read_line takes bytes up to the newline only: frames after it stay in the socket.
  std::string reply = SVC_TRY(read_line(a->fd_.get(), std::chrono::seconds(10)));
  if (reply == "ok tty" || reply == "ok pipes") {
    a->tty_ = reply == "ok tty";
    return a;
  }
  if (reply.starts_with("err ")) {
    int err = 0;
    auto sp = reply.find(' ', 4);
    for (std::size_t i = 4; i < sp && i < reply.size(); ++i) err = err * 10 + (reply[i] - '0');
    std::string text = sp == std::string::npos ? reply : reply.substr(sp + 1);
    return tl::unexpected(Error(sys_error(err, "").code(), text, err));
  }
  if (reply.empty()) return fail(Code::kUnavailable, "the shim closed the connection");
  return fail(Code::kInternal, "unexpected reply from the shim: \"{}\"", reply);
}

Attachment::~Attachment() = default;

void Attachment::close() {
  // shutdown, not close: a thread blocked in read() on this fd wakes with EOF, and the number
  // cannot be reused under it.
  if (fd_) ::shutdown(fd_.get(), SHUT_RDWR);
}

Result<std::optional<Attachment::Frame>> Attachment::read(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (buffer_.size() >= shim::kFrameHeader) {
      auto* h = reinterpret_cast<const unsigned char*>(buffer_.data());
      unsigned len = shim::frame_length(h);
      unsigned char kind = h[0];
      if (len > shim::kMaxFramePayload ||
          (kind != shim::kFrameStdout && kind != shim::kFrameStderr && kind != shim::kFrameExit))
        return fail(Code::kInternal, "the shim sent a frame of kind {} and {} bytes", kind, len);
      if (buffer_.size() >= shim::kFrameHeader + len) {
        Frame f;
        f.kind = kind == shim::kFrameStdout   ? Frame::Kind::kStdout
                 : kind == shim::kFrameStderr ? Frame::Kind::kStderr
                                              : Frame::Kind::kExit;
        f.data = buffer_.substr(shim::kFrameHeader, len);
        buffer_.erase(0, shim::kFrameHeader + len);
        return std::optional<Frame>(std::move(f));
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left < 0) left = 0;
    struct pollfd p = {fd_.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return fail_errno("poll the shim");
    if (rc == 0) return std::optional<Frame>();
    char buf[16 * 1024];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(Code::kUnavailable, "the shim closed the attached connection");
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

Result<> Attachment::send_frame(unsigned char kind, std::string_view payload) {
  std::lock_guard lock(write_mu_);
  unsigned char header[shim::kFrameHeader];
  shim::put_frame_header(header, kind, static_cast<unsigned>(payload.size()));
  std::string out(reinterpret_cast<const char*>(header), sizeof header);
  out.append(payload);
  std::size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::send(fd_.get(), out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(Code::kUnavailable, "the attached process's shim went away");
    off += static_cast<std::size_t>(n);
  }
  return {};
}

Result<> Attachment::write_stdin(std::string_view data) {
  while (!data.empty()) {
    std::size_t n = std::min<std::size_t>(data.size(), shim::kMaxFramePayload);
    SVC_TRY(send_frame(shim::kFrameStdin, data.substr(0, n)));
    data.remove_prefix(n);
  }
  return {};
}

Result<> Attachment::close_stdin() { return send_frame(shim::kFrameCloseStdin, {}); }

Result<> Attachment::resize(std::uint16_t rows, std::uint16_t cols) {
  char p[4] = {static_cast<char>(rows >> 8), static_cast<char>(rows & 0xff),
               static_cast<char>(cols >> 8), static_cast<char>(cols & 0xff)};
  return send_frame(shim::kFrameResize, std::string_view(p, 4));
}

}  // namespace svc::isolation
