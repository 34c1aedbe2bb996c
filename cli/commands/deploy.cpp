// svctl deploy: create a service, or roll it to a new revision when the spec changed. A deploy
// states the whole spec (as a manifest does): a flag left out takes its default, not the value
// of the previous revision, so the same command twice makes no new revision.
//
// stdout gets the URL alone (so URL=$(svctl deploy ...) works); what happened goes to stderr.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include <google/protobuf/util/time_util.h>

#include "cli/context.hpp"
#include "cli/spec_flags.hpp"
#include "common/units.hpp"

namespace svc::cli {

int ensure_image(Context& ctx, const std::string& image);  // run_pull.cpp

namespace {

using google::protobuf::util::TimeUtil;

struct DeployOpts {
  std::string name, image;
  int port = -1;  // -1: not given (the default, 8080)
  std::vector<std::string> env, env_files, labels, command;
  std::string cpu, memory, workdir, user, network = "private", stop_signal, stop_timeout,
                                          entrypoint;
  bool entrypoint_set = false;
  bool no_wait = false;
  int concurrency = 0, min_instances = 0, max_instances = 0, queue_limit = 0;
  int target_utilization = 0, panic_threshold = 0;
  std::string billing;
  std::string idle_timeout, request_timeout, readiness_path, readiness_timeout, stable_window,
      panic_window;
};

// field() is called only when the flag was given: a mutable_*() call alone would mark the
// field set (to 0), which the API refuses as a typo rather than taking the default.
template <typename Field>
Result<> set_duration(const std::string& text, const char* flag, Field field) {
  if (text.empty()) return {};
  auto d = SVC_TRY_CTX(parse_duration(text), "{}", flag);
  *field() = TimeUtil::MillisecondsToDuration(d.count());
  return {};
}

Result<v1::ServiceSpec> build_spec(const DeployOpts& o) {
  v1::ServiceSpec s;
  s.set_name(o.name);
  s.set_image(o.image);
  if (o.port != -1) {
    if (o.port < 1 || o.port > 65535)
      return fail(Code::kInvalidArgument,
                  "--port {}: the port the app listens on inside its instance is 1 to 65535 "
                  "(default 8080)",
                  o.port);
    s.set_port(o.port);
  }
  SVC_TRY(fill_process_spec(o, s));
  s.set_network(o.network == "bridge" ? v1::BRIDGE : v1::PRIVATE);
  s.set_stop_signal(o.stop_signal);
  SVC_TRY(set_duration(o.stop_timeout, "--stop-timeout",
                       [&] { return s.mutable_stop_grace_period(); }));
  s.set_concurrency(o.concurrency);
  s.set_min_instances(o.min_instances);
  s.set_max_instances(o.max_instances);
  s.set_queue_limit(o.queue_limit);
  s.set_billing(o.billing);
  SVC_TRY(set_duration(o.idle_timeout, "--idle-timeout", [&] { return s.mutable_idle_timeout(); }));
  SVC_TRY(set_duration(o.request_timeout, "--request-timeout",
                       [&] { return s.mutable_request_timeout(); }));
  s.mutable_readiness()->set_http_path(o.readiness_path);
  SVC_TRY(set_duration(o.readiness_timeout, "--readiness-timeout",
                       [&] { return s.mutable_readiness()->mutable_timeout(); }));
  auto* k = s.mutable_scaling();
  k->set_target_utilization_percent(o.target_utilization);
  k->set_panic_threshold_percent(o.panic_threshold);
  SVC_TRY(
      set_duration(o.stable_window, "--stable-window", [&] { return k->mutable_stable_window(); }));
  SVC_TRY(
      set_duration(o.panic_window, "--panic-window", [&] { return k->mutable_panic_window(); }));
  return s;
}

}  // namespace

void add_deploy_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<DeployOpts>();
  auto* cmd = app.add_subcommand(
      "deploy",
      "deploy a service: svctl deploy NAME IMAGE [flags] [-- COMMAND ARGS...]; prints its URL");
  cmd->footer(
      "A deploy states the whole spec: flags left out take their defaults, not the previous\n"
      "revision's values. A changed spec makes the next revision (NAME-00002, ...) and rolls to\n"
      "it once its instances are ready; the same spec again changes nothing.");
  cmd->add_option("name", o->name, "the service's name; it answers at NAME.<ingress domain>")
      ->required();
  cmd->add_option("image", o->image, "the image to run")->required();
  cmd->add_option("command", o->command, "command and arguments (after --)");
  cmd->add_option("--port,-p", o->port, "the port the app listens on in its instance (8080)");
  cmd->add_option("--env,-e", o->env, "set a variable: KEY=VALUE, or KEY to pass svctl's own")
      ->allow_extra_args(false);
  cmd->add_option("--env-file", o->env_files, "read variables from a file of KEY=VALUE lines")
      ->allow_extra_args(false);
  cmd->add_option("--label,-l", o->labels, "a label KEY=VALUE")->allow_extra_args(false);
  cmd->add_option("--cpu", o->cpu,
                  "vCPUs each instance reserves and is limited to: 0.5, 250m (default: a small "
                  "request and no limit)");
  cmd->add_option("--memory,-m", o->memory,
                  "memory each instance reserves and is limited to: 256Mi, 1G");
  cmd->add_option("--workdir,-w", o->workdir, "working directory inside the instance");
  cmd->add_option("--user,-u", o->user, "user: uid, uid:gid or a name from the image");
  cmd->add_option("--network", o->network, "private (loopback only, default) or bridge (outbound)")
      ->check(CLI::IsMember({"private", "bridge"}));
  cmd->add_option("--entrypoint", o->entrypoint, "replace the image's entrypoint (\"\" clears it)")
      ->each([o](const std::string&) { o->entrypoint_set = true; });
  cmd->add_option("--stop-signal", o->stop_signal,
                  "signal that asks an instance to stop (default: the image's, else SIGTERM)");
  cmd->add_option("--stop-timeout", o->stop_timeout,
                  "grace period after the stop signal before SIGKILL (default 10s)");
  cmd->add_option("--concurrency", o->concurrency,
                  "requests one instance takes at once; the rest wait (default 80)")
      ->check(CLI::Range(1, 10'000));
  cmd->add_option("--min-instances", o->min_instances, "instances kept running when idle (0)")
      ->check(CLI::Range(0, 1'000));
  cmd->add_option("--max-instances", o->max_instances,
                  "at most this many instances (default 0: as many as the node holds)")
      ->check(CLI::Range(0, 1'000));
  cmd->add_option("--idle-timeout", o->idle_timeout,
                  "no request for this long scales to min-instances (default 60s; at least 1s)");
  cmd->add_option("--request-timeout", o->request_timeout,
                  "from a request's arrival to its response starting, waiting included (5m)");
  cmd->add_option("--readiness-path", o->readiness_path,
                  "GET this path until it answers 2xx/3xx before routing (default: a TCP "
                  "connect to the port)");
  cmd->add_option("--readiness-timeout", o->readiness_timeout,
                  "give up on an instance that is not ready after this long (60s)");
  cmd->add_option("--billing", o->billing,
                  "instance: bill every second an instance exists; request: only start-up, "
                  "requests and shut-down, with CPU throttled between requests (default: the "
                  "node's [billing] service_mode)");
  cmd->add_option("--queue-limit", o->queue_limit,
                  "requests held while no instance has room; more get 503 (default 1000)");
  cmd->add_option("--target-utilization", o->target_utilization,
                  "the autoscaler aims at this percent of --concurrency (default 70)");
  cmd->add_option("--stable-window", o->stable_window,
                  "the autoscaler averages concurrency over this long (default 60s)");
  cmd->add_option("--panic-window", o->panic_window,
                  "... and over this long to catch bursts (default 6s)");
  cmd->add_option("--panic-threshold", o->panic_threshold,
                  "a burst is the panic window at this percent of the ready capacity (200)");
  cmd->add_flag("--no-wait", o->no_wait,
                "return once the revision is recorded, without waiting for it to take the "
                "traffic");
  // Unlike `run` (docker's order: flags, IMAGE, command), deploy takes its flags after NAME
  // IMAGE too; only what follows "--" is the command.
  set_runner(cmd, [&ctx, o]() -> int {
    auto spec = build_spec(*o);
    if (!spec) {
      std::cerr << "svctl: " << spec.error().message() << "\n";
      return kExitUsage;
    }
    if (int rc = ensure_image(ctx, o->image); rc != kExitOk) return rc;
    v1::DeployServiceRequest req;
    *req.mutable_spec() = *spec;
    v1::Service svc;
    // Deploy resolves the image and records the revision: allow for a slow registry.
    auto call = ctx.client().context(std::chrono::minutes(10));
    auto status = ctx.client().services().Deploy(call.get(), req, &svc);
    if (!status.ok()) return ctx.report(status);
    // As `gcloud run deploy` and `kn service update`: a deploy that rolls out returns once the
    // new revision takes the traffic (its instances ready, the old ones draining), so the
    // next request reaches it. The old revision serves meanwhile; --no-wait returns at once.
    bool rolled = false;
    int waited_ms = 0;
    if (!o->no_wait && svc.deploy_outcome() == v1::Service::UPDATED &&
        svc.serving_revision() != svc.latest_revision()) {
      const auto started = std::chrono::steady_clock::now();
      auto readiness = TimeUtil::DurationToMilliseconds(svc.spec().readiness().timeout());
      const auto limit = std::chrono::milliseconds(2 * std::max<std::int64_t>(readiness, 60000));
      std::string last_message;
      for (;;) {
        v1::GetServiceRequest get;
        get.set_name(svc.name());
        v1::Service now;
        auto get_call = ctx.client().context();
        auto got = ctx.client().services().Get(get_call.get(), get, &now);
        if (!got.ok()) return ctx.report(got);
        for (const auto& c : now.conditions())
          if (c.type() == "Rollout") last_message = c.message();
        if (now.serving_revision() == svc.latest_revision()) {
          svc = now;
          svc.set_deploy_outcome(v1::Service::UPDATED);
          rolled = true;
          break;
        }
        if (now.latest_revision() != svc.latest_revision()) break;  // a newer deploy took over
        auto elapsed = std::chrono::steady_clock::now() - started;
        if (elapsed > limit) {
          std::cerr << fmt::format(
              "svctl: revision {} does not take the traffic after {} s ({}); {} still serves. "
              "See `svctl service describe {}`\n",
              svc.latest_revision(),
              std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(),
              last_message.empty() ? "no instance ready" : last_message,
              now.serving_revision(), svc.name());
          return kExitFailed;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      waited_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count());
    }
    if (ctx.json()) {
      print_json(std::cout, svc);
      return kExitOk;
    }
    switch (svc.deploy_outcome()) {
      case v1::Service::CREATED:
        std::cerr << fmt::format("Service {} created: revision {}\n", svc.name(),
                                 svc.latest_revision());
        break;
      case v1::Service::UPDATED:
        if (rolled)
          std::cerr << fmt::format(
              "Service {} updated: revision {} takes all traffic (ready after {} ms)\n",
              svc.name(), svc.latest_revision(), waited_ms);
        else if (svc.serving_revision() == svc.latest_revision())
          std::cerr << fmt::format("Service {} updated: revision {} takes all traffic\n",
                                   svc.name(), svc.latest_revision());
        else
          std::cerr << fmt::format(
              "Service {} updated: revision {} is rolling out; {} serves until its instances "
              "are ready\n",
              svc.name(), svc.latest_revision(), svc.serving_revision());
        break;
      default:
        std::cerr << fmt::format("Service {} unchanged (the same spec): {} still serves\n",
                                 svc.name(), svc.serving_revision());
        break;
    }
    std::cout << svc.url() << "\n";
    return kExitOk;
  });
}

}  // namespace svc::cli
