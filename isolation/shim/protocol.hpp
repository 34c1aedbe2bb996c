#pragma once
// The shim's control protocol and on-disk names, shared by svc-shim and the runtime library.
// Kept free of the standard library so the static shim stays small.
//
// One request per line on the unix socket <sandbox>/shim.sock; one reply line each:
//   state                -> "ok created <pid>" | "ok running <pid>"
//   start                -> "ok" once the task was exec'd | "err <errno> <text>" (exec failed)
//   started              -> whether a started task was exec'd, once the child says: "ok" |
//                           "ok failed <errno> <text>" (execve failed); "err 16 ..." when it
//                           was not started
//   kill <sig>           -> "ok" | "err <errno> <text>"     (signals the sandbox's first process)
//   stop <sig> <ms>      -> "ok": sig now, SIGKILL after <ms> unless it exited (timer in the shim,
//                           so it fires even when the daemon is gone)
//   wait                 -> no reply until the task exits, then "exit <exit.json contents>"
//   attach [stdin] [start] -> "ok tty" | "ok pipes", then the connection carries frames (below):
//                           the task's output from now on, and with stdin its input and window
//                           size; start releases a created task once this client is attached,
//                           so nothing it prints is missed. "err ..." when the shim holds no
//                           stdio (inherited) or no stdin (not opened).
// After the exit the shim writes exit.json durably, answers every waiter, removes the socket
// and exits: a missing socket with an exit.json means "stopped".

namespace svc::isolation::shim {

inline constexpr const char kSocketName[] = "shim.sock";
inline constexpr const char kExitFile[] = "exit.json";
inline constexpr const char kLogFile[] = "log";
inline constexpr const char kRotatedLogFile[] = "log.1";

// Fixed fd numbers are not used: the runtime passes every fd number on the command line:
//   svc-shim --dir D --pid N --pidfd F --ctl F --start F --execerr F
//            [--stdout F --stderr F --log-max BYTES | --no-log] [--stdin F] [--console F]
//            [--socket NAME --exit NAME] [--cgroup DIR]... [--autostart]
// --console: a socket on which the task's first process sends its pty's master (a terminal
// task); --stdin: the write end of the task's stdin pipe; --socket/--exit: other names than
// shim.sock and exit.json (an exec'd process's own shim: exec-<id>.sock, exec-<id>.json).
inline constexpr int kMaxCgroupDirs = 16;
inline constexpr int kMaxClients = 32;
// A line longer than this is written as a partial ("P") record (CRI: containerd uses 16 KiB).
inline constexpr unsigned kMaxLogLine = 16 * 1024;
// Attached clients (each has its own buffers, so fewer than control clients).
inline constexpr int kMaxAttach = 8;

// Frames on an attached connection: a 5-byte header (kind, then the payload length as a 32-bit
// big-endian number) and the payload.
//   shim -> client: kFrameStdout, kFrameStderr (bytes; a terminal's output is stdout),
//                   kFrameExit (exit.json's text: the last frame, after all output)
//   client -> shim: kFrameStdin (bytes), kFrameCloseStdin (empty: the task's stdin reaches EOF;
//                   ignored for a terminal, whose input has no end), kFrameResize (4 bytes:
//                   rows and columns, 16-bit big-endian each)
inline constexpr unsigned char kFrameStdout = 1;
inline constexpr unsigned char kFrameStderr = 2;
inline constexpr unsigned char kFrameExit = 3;
inline constexpr unsigned char kFrameStdin = 4;
inline constexpr unsigned char kFrameCloseStdin = 5;
inline constexpr unsigned char kFrameResize = 6;
inline constexpr unsigned kFrameHeader = 5;
inline constexpr unsigned kMaxFramePayload = 64 * 1024;

inline void put_frame_header(unsigned char* out, unsigned char kind, unsigned length) {
  out[0] = kind;
  out[1] = static_cast<unsigned char>(length >> 24);
  out[2] = static_cast<unsigned char>(length >> 16);
  out[3] = static_cast<unsigned char>(length >> 8);
  out[4] = static_cast<unsigned char>(length);
}

inline unsigned frame_length(const unsigned char* header) {
  return (static_cast<unsigned>(header[1]) << 24) | (static_cast<unsigned>(header[2]) << 16) |
         (static_cast<unsigned>(header[3]) << 8) | static_cast<unsigned>(header[4]);
}

inline bool valid_client_frame(unsigned char kind, unsigned length) {
  switch (kind) {
    case kFrameStdin:
      return length <= kMaxFramePayload;
    case kFrameCloseStdin:
      return length == 0;
    case kFrameResize:
      return length == 4;
    default:
      return false;
  }
}

}  // namespace svc::isolation::shim
