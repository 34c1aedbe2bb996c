// svcd: the svc node daemon.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <CLI/CLI.hpp>

#include "api/server/openapi.hpp"
#include "common/cli_reference.hpp"
#include "common/log.hpp"
#include "common/version.hpp"
#include "daemon/config.hpp"
#include "daemon/config_reference.hpp"
#include "daemon/daemon.hpp"

using namespace svc;

int main(int argc, char** argv) {
  CLI::App app{"svcd: the svc node daemon (serverless containers on machines you own)"};
  std::string config_path, state_dir, run_dir, log_level;
  bool print_config = false, show_version = false;
  app.add_option("--config", config_path, "config file (default /etc/svcd/svcd.toml if present)");
  app.add_option("--state-dir", state_dir, "state directory (overrides daemon.state_dir)");
  app.add_option("--run-dir", run_dir, "runtime directory for the API socket (daemon.run_dir)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error (daemon.log_level)");
  app.add_flag("--print-config", print_config, "print the effective configuration and exit");
  app.add_flag("--version", show_version, "print the version and exit");
  // Hidden: the man page, completions, the commented default config file and the
  // configuration reference, all from the definitions svcd itself uses.
  if (argc == 3 && std::string_view(argv[1]) == "--generate") {
    std::string what = argv[2], out;
    cli_reference::ManInfo info;
    info.program = "svcd";
    info.section = 8;
    info.summary = "the svc node daemon: serverless containers on machines you own";
    info.description =
        "svcd pulls OCI images, runs every task in its own sandbox (its own namespaces, cgroup, "
        "seccomp filter and user-id range), starts service instances on demand and bills every "
        "second they run. svctl(1) and programs drive it through its API: gRPC and REST on the "
        "unix socket <run_dir>/svcd.sock, and optionally on TCP.\n\n"
        "svcd runs with no config file: /etc/svcd/svcd.toml (or --config) overrides the embedded "
        "defaults, and the flags below override the file. Each sandbox is supervised by its own "
        "svc-shim, so svcd can be stopped, restarted or upgraded while tasks run: the next svcd "
        "re-adopts them.\n\n"
        "Under systemd svcd runs as svcd.service (Type=notify, with a watchdog). SIGTERM or "
        "SIGINT stop it (tasks keep running); a second one exits at once. SIGHUP (systemctl "
        "reload svcd) reads the API's TLS certificate, key and client CA again.";
    info.files =
        "/etc/svcd/svcd.toml\tthe configuration (every key, commented, at its default)\n"
        "/var/lib/svcd\tthe state directory: database, images, snapshots, tasks\n"
        "/run/svcd/svcd.sock\tthe API socket (root and group svc)";
    info.see_also = "svctl(1), svc-runtime(1), systemd.service(5)";
    if (what == "config-file") {
      out = daemon::default_config_file();
    } else if (what == "config-reference") {
      out = daemon::config_reference_markdown();
    } else if (what == "openapi") {
      out = api::openapi_document(svc::version());
    } else if (!cli_reference::generate(app, info, what, out)) {
      std::cerr << "svcd: --generate takes man, bash-completion, zsh-completion, markdown, "
                   "config-file, config-reference or openapi\n";
      return 2;
    }
    std::cout << out;
    return 0;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (show_version) {
    std::cout << "svcd " << version() << " (" << git_commit() << ")\n";
    return 0;
  }

  std::optional<std::filesystem::path> explicit_config;
  if (!config_path.empty()) explicit_config = config_path;
  auto config = daemon::load_config(explicit_config);
  if (!config) {
    std::cerr << "svcd: " << config.error().message() << "\n";
    return 2;
  }
  if (!state_dir.empty()) config->daemon.state_dir = state_dir;
  if (!run_dir.empty()) config->daemon.run_dir = run_dir;
  if (!log_level.empty()) config->daemon.log_level = log_level;
  if (auto ok = daemon::validate(*config); !ok) {
    std::cerr << "svcd: " << ok.error().message() << "\n";
    return 2;
  }
  if (print_config) {
    std::cout << daemon::to_toml(*config);
    return 0;
  }
  if (auto ok = setup_logging(config->daemon.log_level); !ok) {
    std::cerr << "svcd: " << ok.error().message() << "\n";
    return 2;
  }

  // Signals are taken synchronously by this thread; every thread started later inherits the
  // mask. SIGPIPE is ignored: a client that hangs up is an error on a write, not our death.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto d = daemon::Daemon::start(*config);
  if (!d) {
    spdlog::critical("svcd: {}", d.error().message());
    return 1;
  }
  sd_notify(0, "READY=1");

  // The watchdog: under systemd with WatchdogSec=, this loop checks svcd's health every half
  // period and pets only when the check passes; a svcd that is wedged (its store deadlocked or
  // locked by another process, its disk gone) stops petting and systemd restarts it.
  std::uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) <= 0) watchdog_usec = 0;
  timespec interval{};
  if (watchdog_usec > 0) {
    std::uint64_t half = watchdog_usec / 2;
    interval.tv_sec = static_cast<time_t>(half / 1'000'000);
    interval.tv_nsec = static_cast<long>(half % 1'000'000) * 1000;
    spdlog::info("svcd: systemd watchdog every {} ms", watchdog_usec / 1000);
    sd_notify(0, "WATCHDOG=1");
  }
  int sig = 0;
  bool healthy = true;
  for (;;) {
    sig = watchdog_usec > 0 ? sigtimedwait(&set, nullptr, &interval) : sigwaitinfo(&set, nullptr);
    if (sig < 0) {
      if (errno == EAGAIN) {
        auto ok = (*d)->check_health();
        if (ok) {
          if (!healthy) spdlog::info("svcd: health check passes again; petting the watchdog");
          sd_notify(0, "WATCHDOG=1");
        } else {
          spdlog::error("svcd: health check failed, not petting the watchdog: {}",
                        ok.error().message());
        }
        healthy = ok.has_value();
      }
      continue;  // EINTR, or the next watchdog period
    }
    if (sig == SIGHUP) {
      // systemd (ExecReload=) waits for READY=1 after RELOADING=1.
      sd_notify(0, "RELOADING=1");
      if (auto ok = (*d)->reload(); !ok) spdlog::error("svcd: SIGHUP: {}", ok.error().message());
      sd_notify(0, "READY=1");
      continue;
    }
    break;
  }
  spdlog::info("svcd: {} received, shutting down (send it again to force)", strsignal(sig));
  sd_notify(0, "STOPPING=1");
  std::atomic<bool> done{false};
  std::thread stopper([&] {
    (*d)->stop(std::chrono::milliseconds(500));
    d->reset();
    done = true;
    // Wake the sigwait below.
    kill(getpid(), SIGHUP);
  });
  while (!done.load()) {
    if (sigwait(&set, &sig) != 0) continue;
    if (done.load()) break;
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::warn("svcd: second {}: exiting now", strsignal(sig));
      spdlog::default_logger()->flush();
      _exit(1);
    }
  }
  stopper.join();
  spdlog::info("svcd: stopped");
  return 0;
}
