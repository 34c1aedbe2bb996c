#pragma once
// Fixed-size messages from the sandbox's first process (to the runtime during set-up, to the
// shim when execve fails). No dependencies: the static shim includes it.
#include <cstdint>

namespace svc::isolation {

struct ChildMessage {
  static constexpr std::uint32_t kGo = 0x676f2121;     // runtime -> child, with the mount fds
  static constexpr std::uint32_t kReady = 0x72656479;  // child -> runtime: set up, waiting
  static constexpr std::uint32_t kError = 0x6572726f;  // child -> runtime/shim: text + errno
  std::uint32_t kind = 0;
  std::int32_t err = 0;    // errno of the failed step
  std::uint32_t nfds = 0;  // kGo: fds attached (root mount first, then the bind sources)
  char text[500] = {0};
};

}  // namespace svc::isolation
