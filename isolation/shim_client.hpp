#pragma once
// The runtime's side of the shim's control socket (protocol in shim/protocol.hpp). Socket paths
// longer than sun_path allows are reached through /proc/self/fd/<dir fd>/shim.sock.
#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/fd.hpp"
#include "common/result.hpp"

namespace svc::isolation {

// A listening SOCK_STREAM unix socket at dir/name, mode 0600, close-on-exec.
Result<UniqueFd> listen_unix(const std::filesystem::path& dir, std::string_view name,
                             const std::filesystem::path& proc = "/proc");
// Connects to dir/name. UNAVAILABLE when nobody listens (the shim is gone).
Result<UniqueFd> connect_unix(const std::filesystem::path& dir, std::string_view name,
                              bool nonblocking = false,
                              const std::filesystem::path& proc = "/proc");

// Sends one request line and returns the reply line (without "\n"). A reply "err <errno> <text>"
// becomes an error with that errno.
Result<std::string> shim_request(const std::filesystem::path& sandbox_dir, std::string_view line,
                                 std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Reads until "\n" or EOF (returns what it has), within the timeout.
Result<std::string> read_line(int fd, std::chrono::milliseconds timeout);

}  // namespace svc::isolation
