#pragma once
// A client attached to a task's stdio (or an exec'd process's) through its shim: the output from
// now on, frame by frame, and — when attached with stdin — the process's input and its terminal
// size (shim/protocol.hpp has the frames). One thread may read while another writes.
//
// Owns the connection; close() (from any thread) ends a blocked read. Closing without
// close_stdin() detaches: the process's stdin stays open for the next client.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace svc::isolation {

struct AttachOptions {
  std::string exec_id;  // "": the task itself
  bool stdin = false;   // write to its stdin (refused when it has none)
  bool start = false;   // release a created process once attached (nothing it prints is missed)
};

class Attachment {
 public:
  struct Frame {
    enum class Kind { kStdout, kStderr, kExit } kind = Kind::kStdout;
    std::string data;  // kExit: the exit record's JSON (exit_record.hpp parses it)
  };

  // Connects to <dir>/<socket> and asks to attach. UNAVAILABLE when no shim listens (the process
  // has ended); the shim's refusals keep their errno (EINVAL: no stdin to attach to).
  static Result<std::unique_ptr<Attachment>> open(const std::filesystem::path& dir,
                                                  std::string_view socket,
                                                  const AttachOptions& options,
                                                  const std::filesystem::path& proc = "/proc");
  ~Attachment();
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;

  bool tty() const { return tty_; }
  // The next frame; nullopt when timeout passed first. After kExit, or when the shim went away
  // without one (UNAVAILABLE), the stream has ended.
  Result<std::optional<Frame>> read(std::chrono::milliseconds timeout);
  Result<> write_stdin(std::string_view data);
  Result<> close_stdin();
  Result<> resize(std::uint16_t rows, std::uint16_t cols);
  void close();

 private:
  Attachment() = default;
  Result<> send_frame(unsigned char kind, std::string_view payload);

  UniqueFd fd_;
  bool tty_ = false;
  std::string buffer_;  // received, not yet returned
  std::mutex write_mu_;
};

}  // namespace svc::isolation
