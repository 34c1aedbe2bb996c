#pragma once
// The shim's control protocol and on-disk names, shared by svc-shim and the runtime library.
// Kept free of the standard library so the static shim stays small.
//
// One request per line on the unix socket <sandbox>/shim.sock; one reply line each:
//   state                -> "ok created <pid>" | "ok running <pid>"
//   start                -> "ok" once the task was exec'd | "err <errno> <text>" (exec failed)
//   kill <sig>           -> "ok" | "err <errno> <text>"     (signals the sandbox's first process)
//   stop <sig> <ms>      -> "ok": sig now, SIGKILL after <ms> unless it exited (timer in the shim,
//                           so it fires even when the daemon is gone)
//   wait                 -> no reply until the task exits, then "exit <exit.json contents>"
// After the exit the shim writes exit.json durably, answers every waiter, removes the socket
// and exits: a missing socket with an exit.json means "stopped".

namespace svc::isolation::shim {

inline constexpr const char kSocketName[] = "shim.sock";
inline constexpr const char kExitFile[] = "exit.json";
inline constexpr const char kLogFile[] = "log";
inline constexpr const char kRotatedLogFile[] = "log.1";

// Fixed fd numbers are not used: the runtime passes every fd number on the command line:
//   svc-shim --dir D --pid N --pidfd F --ctl F --start F --execerr F
//            [--stdout F --stderr F --log-max BYTES] [--cgroup DIR]... [--autostart]
inline constexpr int kMaxCgroupDirs = 16;
inline constexpr int kMaxClients = 32;
// A line longer than this is written as a partial ("P") record (CRI: containerd uses 16 KiB).
inline constexpr unsigned kMaxLogLine = 16 * 1024;

}  // namespace svc::isolation::shim
