// svcd under a systemd watchdog, with systemd's side played by the test: a real NOTIFY_SOCKET
// (a datagram socket bound here) and WATCHDOG_USEC in svcd's environment, as systemd sets them
// for a unit with WatchdogSec=. svcd pets while it is healthy, stops petting while its store is
// wedged (another process holds the database's write lock), starts again when it is free, and
// dies on the SIGABRT that systemd sends when the watchdog fires; a new svcd starts on the same
// state.
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include <catch2/catch.hpp>

#include "common/fd.hpp"
#include "tests/support/daemon_fixture.hpp"

using namespace svc;
using namespace svc::test;

namespace {

// The notify socket systemd would hold: every datagram svcd sends, with a receive timeout.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    REQUIRE(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  // The next datagram, or "" when none came within timeout.
  std::string next(std::chrono::milliseconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  // Waits for a datagram holding what; false when the socket stays silent for timeout.
  bool wait_for(std::string_view what, std::chrono::milliseconds timeout) {
    for (;;) {
      std::string m = next(timeout);
      if (m.empty()) return false;
      if (m.find(what) != std::string::npos) return true;
    }
  }
  // Counts the datagrams holding what until the socket is silent for quiet.
  int count(std::string_view what, std::chrono::milliseconds quiet, int stop_after) {
    int n = 0;
    while (n < stop_after) {
      std::string m = next(quiet);
      if (m.empty()) break;
      if (m.find(what) != std::string::npos) ++n;
    }
    return n;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  UniqueFd fd_;
};

// Holds the database's write lock, as a stuck backup or sqlite3 session would.
class DbLock {
 public:
  explicit DbLock(const std::filesystem::path& db) {
    REQUIRE(sqlite3_open(db.c_str(), &db_) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  }
  ~DbLock() { release(); }
  void release() {
    if (!db_) return;
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db_);
    db_ = nullptr;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace

TEST_CASE("svcd pets the systemd watchdog while healthy and stops while its store is wedged",
          "[daemon][watchdog]") {
  TempDir dir;
  NotifySocket notify(dir.path() / "notify.sock");
  DaemonFixture::Options o;
  o.env["NOTIFY_SOCKET"] = notify.path().string();
  // 600 ms: a pet every 300 ms. (systemd passes WatchdogSec= in microseconds.)
  o.env["WATCHDOG_USEC"] = "600000";
  DaemonFixture d(o);
  d.start();
  REQUIRE(notify.wait_for("READY=1", std::chrono::seconds(10)));

  // Healthy: pets keep coming, each well within the period.
  CHECK(notify.count("WATCHDOG=1", std::chrono::milliseconds(600), 4) == 4);

  {
    // Wedged: the store cannot take a write (svcd's busy timeout is 5 s), so the check fails
    // and no pet comes; systemd would now kill svcd.
    DbLock lock(d.state_dir() / "svcd.db");
    notify.count("WATCHDOG=1", std::chrono::milliseconds(1), 2);  // one may be in flight
    CHECK(notify.count("WATCHDOG=1", std::chrono::seconds(3), 1) == 0);
    CHECK(wait_for([&] { return d.log().find("health check failed") != std::string::npos; },
                   std::chrono::seconds(10)));
    lock.release();
    // Free again: the pets resume without a restart.
    CHECK(notify.wait_for("WATCHDOG=1", std::chrono::seconds(10)));
    CHECK(d.svctl({"node", "info"}).exit_code == 0);
  }

  // What systemd does when the watchdog fires (WatchdogSignal=SIGABRT), then Restart=on-failure.
  ::kill(d.pid(), SIGABRT);
  CHECK(wait_for([&] { return !d.running(); }, std::chrono::seconds(10)));
  d.start();
  CHECK(notify.wait_for("READY=1", std::chrono::seconds(10)));
  CHECK(d.svctl({"node", "info"}).exit_code == 0);
  CHECK(notify.wait_for("WATCHDOG=1", std::chrono::seconds(5)));
}

TEST_CASE("without WATCHDOG_USEC svcd sends READY and never a pet", "[daemon][watchdog]") {
  TempDir dir;
  NotifySocket notify(dir.path() / "notify.sock");
  DaemonFixture::Options o;
  o.env["NOTIFY_SOCKET"] = notify.path().string();
  DaemonFixture d(o);
  d.start();
  REQUIRE(notify.wait_for("READY=1", std::chrono::seconds(10)));
  CHECK(notify.count("WATCHDOG=1", std::chrono::seconds(1), 1) == 0);
  REQUIRE(d.stop().value_or(-1) == 0);
  CHECK(notify.wait_for("STOPPING=1", std::chrono::seconds(10)));
}
