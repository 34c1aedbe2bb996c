// svctl services, svctl service describe|rm|instances|logs: the verbs on services that exist.
#include <iostream>

#include <google/protobuf/util/time_util.h>

#include "api/json.hpp"
#include "cli/context.hpp"
#include "cli/service_format.hpp"
#include "cli/task_format.hpp"
#include "common/units.hpp"

namespace svc::cli {

namespace {

using google::protobuf::util::TimeUtil;

grpc::Status get_service(Context& ctx, const std::string& name, v1::Service* out) {
  v1::GetServiceRequest req;
  req.set_name(name);
  auto call = ctx.client().context();
  return ctx.client().services().Get(call.get(), req, out);
}

void add_list(CLI::App& app, Context& ctx) {
  auto quiet = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("services", "list services");
  cmd->add_flag("-q,--quiet", *quiet, "names only");
  set_runner(cmd, [&ctx, quiet]() -> int {
    v1::ListServicesResponse all;
    auto call = ctx.client().context();
    auto status = ctx.client().services().List(call.get(), v1::ListServicesRequest(), &all);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, all);
      return kExitOk;
    }
    if (*quiet) {
      for (const auto& s : all.services()) std::cout << s.name() << "\n";
      return kExitOk;
    }
    Table table({"NAME", "URL", "REVISION", "READY", "INSTANCES", "REQUESTS", "STATUS", "CREATED"});
    for (const auto& s : all.services())
      table.add({s.name(), s.url().empty() ? "-" : s.url(), s.serving_revision(),
                 ready_of_desired(s), std::to_string(s.instances_size()),
                 std::to_string(s.stats().requests_total()), service_status(s),
                 ago(s.created_at())});
    table.print(std::cout);
    return kExitOk;
  });
}

void print_instances(const google::protobuf::RepeatedPtrField<v1::Instance>& instances) {
  Table table(
      {"ID", "REVISION", "STATE", "IN FLIGHT", "REQUESTS", "PID", "STARTED", "READY", "REASON"});
  for (const auto& i : instances) {
    std::string reason = i.stop_reason();
    if (i.adopted()) reason += reason.empty() ? "re-adopted" : ", re-adopted";
    table.add({i.id(), i.revision_name(), instance_state(i.state()), std::to_string(i.in_flight()),
               std::to_string(i.requests_total()), i.pid() ? std::to_string(i.pid()) : "-",
               ago(i.started_at()), ago(i.ready_at()), reason.empty() ? "-" : reason});
  }
  table.print(std::cout);
}

void describe(const v1::Service& s) {
  const v1::ServiceSpec& spec = s.spec();
  Fields f;
  f.add("Name", s.name());
  f.add("URL", s.url().empty() ? "- (the ingress is off)" : s.url());
  f.add("Status", service_status(s));
  f.add("Image", spec.image() + (s.image_digest().empty() ? "" : " (" + s.image_digest() + ")"));
  std::string command;
  for (const auto& a : spec.entrypoint()) command += (command.empty() ? "" : " ") + a;
  for (const auto& a : spec.args()) command += (command.empty() ? "" : " ") + a;
  f.add("Command", command.empty() ? "(the image's)" : command);
  f.add("Serving", s.serving_revision());
  f.add("Latest", s.latest_revision());
  f.add("Port", std::to_string(spec.port()));
  const auto& k = spec.scaling();
  f.add("Concurrency", fmt::format("{} per instance (the autoscaler aims at {}%)",
                                   spec.concurrency(), k.target_utilization_percent()));
  f.add("Instances",
        fmt::format("min {}, max {}, idle timeout {}", spec.min_instances(),
                    spec.max_instances() ? std::to_string(spec.max_instances()) : "as many as fit",
                    duration_text(spec.idle_timeout())));
  f.add("Autoscaler",
        fmt::format("stable window {}, panic window {} at {}%", duration_text(k.stable_window()),
                    duration_text(k.panic_window()), k.panic_threshold_percent()));
  f.add("Request timeout", duration_text(spec.request_timeout()));
  f.add("Queue limit", std::to_string(spec.queue_limit()));
  f.add("Billing", spec.billing().empty() ? "the node's service_mode" : spec.billing());
  f.add("Readiness",
        (spec.readiness().http_path().empty()
             ? fmt::format("TCP connect to port {}", spec.port())
             : fmt::format("GET {} answers 2xx or 3xx", spec.readiness().http_path())) +
            fmt::format(" (gives up after {})", duration_text(spec.readiness().timeout())));
  f.add("Stop", fmt::format("{}, SIGKILL after {}",
                            spec.stop_signal().empty() ? "the image's signal (SIGTERM)"
                                                       : spec.stop_signal(),
                            duration_text(spec.stop_grace_period())));
  const auto& r = spec.resources();
  f.add(
      "Resources",
      fmt::format("cpu {}, memory {}",
                  r.cpu_millis() ? format_cpu_millis(r.cpu_millis()) + " vCPU" : "node default",
                  r.memory_bytes() ? format_size_human(static_cast<std::uint64_t>(r.memory_bytes()))
                                   : "node default"));
  std::string env;
  for (const auto& [key, v] : spec.env()) env += (env.empty() ? "" : ", ") + key;
  if (!env.empty()) f.add("Env (names)", env);
  std::string labels;
  for (const auto& [key, v] : spec.labels()) labels += (labels.empty() ? "" : ", ") + key + "=" + v;
  if (!labels.empty()) f.add("Labels", labels);
  f.add("Created", when(s.created_at()));
  f.add("Updated", when(s.updated_at()));
  const v1::ServiceStats& st = s.stats();
  f.add("Requests", requests_text(st));
  f.add("Latency", latency_text(st.latency()));
  const v1::ColdStartStats& cs = st.cold_starts();
  f.add("Cold starts", cs.count() == 0
                           ? std::string("0")
                           : fmt::format("{}: {}", cs.count(), latency_text(cs.total())));
  if (cs.count() > 0) {
    f.add("Last cold start", fmt::format("{} on {}: {}", ago(cs.last_at()), cs.last_instance(),
                                         last_cold_start_text(cs)));
    f.add("Cold start phases",
          fmt::format("queue p50 {}, sandbox p50 {}, readiness p50 {}, first byte p50 {}",
                      millis(cs.queue().p50_ms()), millis(cs.sandbox().p50_ms()),
                      millis(cs.readiness().p50_ms()), millis(cs.first_byte().p50_ms())));
  }
  f.print(std::cout);

  std::cout << "\nConditions:\n";
  Table conditions({"TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"});
  for (const auto& c : s.conditions())
    conditions.add({c.type(), c.status() ? "True" : "False", c.reason(), ago(c.last_transition()),
                    c.message()});
  conditions.print(std::cout);

  std::cout << "\nRevisions:\n";
  Table revisions({"NAME", "TRAFFIC", "DESIRED", "READY", "STARTING", "DRAINING", "CONCURRENCY",
                   "IMAGE", "CREATED"});
  int shown = 0;
  for (const auto& rev : s.revisions()) {
    // Old revisions with nothing left are history: the newest three of them are enough here.
    bool idle = rev.retired() &&
                rev.ready_instances() + rev.starting_instances() + rev.draining_instances() == 0;
    if (idle && shown >= 3) continue;
    ++shown;
    revisions.add({rev.name(), fmt::format("{}%", rev.traffic_percent()),
                   std::to_string(rev.desired_instances()), std::to_string(rev.ready_instances()),
                   std::to_string(rev.starting_instances()),
                   std::to_string(rev.draining_instances()),
                   fmt::format("{:.2f} stable, {:.2f} panic{}", rev.stable_concurrency(),
                               rev.panic_concurrency(), rev.panicking() ? " (panicking)" : ""),
                   rev.spec().image(), ago(rev.created_at())});
  }
  revisions.print(std::cout);
  if (shown < s.revisions_size())
    std::cout << fmt::format("({} older revision(s) not shown; -o json lists all)\n",
                             s.revisions_size() - shown);

  std::cout << "\nInstances:\n";
  if (s.instances().empty())
    std::cout << "none (the next request starts one)\n";
  else
    print_instances(s.instances());
}

void add_describe(CLI::App& service, Context& ctx) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = service.add_subcommand(
      "describe", "everything about a service: revisions, instances, conditions, requests");
  cmd->add_option("name", *names, "service names")->required();
  set_runner(cmd, [&ctx, names]() -> int {
    int rc = kExitOk;
    bool first = true;
    for (const auto& name : *names) {
      v1::Service s;
      auto status = get_service(ctx, name, &s);
      if (!status.ok()) {
        rc = ctx.report(status);
        continue;
      }
      if (ctx.json()) {
        print_json(std::cout, s);
        continue;
      }
      if (!first) std::cout << "\n";
      first = false;
      describe(s);
    }
    return rc;
  });
}

void add_rm(CLI::App& service, Context& ctx) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* cmd = service.add_subcommand(
      "rm", "remove services: their URL answers 404 at once; instances drain and stop");
  cmd->add_option("name", *names, "service names")->required();
  set_runner(cmd, [&ctx, names]() -> int {
    int rc = kExitOk;
    for (const auto& name : *names) {
      v1::DeleteServiceRequest req;
      req.set_name(name);
      v1::DeleteServiceResponse resp;
      auto call = ctx.client().context();
      auto status = ctx.client().services().Delete(call.get(), req, &resp);
      if (!status.ok()) {
        rc = ctx.report(status);
        continue;
      }
      if (!ctx.json()) std::cout << name << "\n";
    }
    return rc;
  });
}

void add_instances(CLI::App& service, Context& ctx) {
  auto name = std::make_shared<std::string>();
  auto* cmd = service.add_subcommand(
      "instances", "a service's instances now: starting, ready, draining (stopped ones are gone)");
  cmd->add_option("name", *name, "service name")->required();
  set_runner(cmd, [&ctx, name]() -> int {
    v1::ListInstancesRequest req;
    req.set_name(*name);
    v1::ListInstancesResponse resp;
    auto call = ctx.client().context();
    auto status = ctx.client().services().ListInstances(call.get(), req, &resp);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, resp);
      return kExitOk;
    }
    print_instances(resp.instances());
    return kExitOk;
  });
}

void add_logs(CLI::App& service, Context& ctx) {
  struct Opts {
    std::string name, since;
    bool follow = false, timestamps = false, no_requests = false;
    int tail = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = service.add_subcommand(
      "logs",
      "every instance's output and the request log, merged in time order (stopped instances "
      "included)");
  cmd->add_option("name", o->name, "service name")->required();
  cmd->add_flag("-f,--follow", o->follow, "keep printing new lines until interrupted");
  cmd->add_option("-n,--tail", o->tail, "only the last N lines")->check(CLI::NonNegativeNumber);
  cmd->add_option("--since", o->since,
                  "only lines newer than this: a duration (10m) or RFC 3339 time");
  cmd->add_flag("-t,--timestamps", o->timestamps, "print each line's time");
  cmd->add_flag("--no-requests", o->no_requests, "leave out the request log lines");
  set_runner(cmd, [&ctx, o]() -> int {
    v1::ServiceLogsRequest req;
    req.set_name(o->name);
    req.set_follow(o->follow);
    req.set_tail(o->tail);
    req.set_no_requests(o->no_requests);
    if (!o->since.empty()) {
      google::protobuf::Timestamp t;
      if (auto d = parse_duration(o->since); d) {
        auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        t = TimeUtil::MillisecondsToTimestamp((now - *d).count());
      } else if (!TimeUtil::FromString(o->since, &t)) {
        return ctx.report(Error(Code::kInvalidArgument,
                                fmt::format("--since {}: give a duration (10m) or an RFC 3339 time "
                                            "(2026-11-22T10:00:00Z)",
                                            o->since)));
      }
      *req.mutable_since() = t;
    }
    auto call = ctx.client().context(std::nullopt);
    auto reader = ctx.client().services().Logs(call.get(), req);
    v1::ServiceLogEntry e;
    while (reader->Read(&e)) {
      if (ctx.json()) {
        std::cout << api::to_json(e) << std::endl;
        continue;
      }
      std::ostream& out = e.kind() == v1::ServiceLogEntry::STDERR ? std::cerr : std::cout;
      if (o->timestamps) out << TimeUtil::ToString(e.time()) << " ";
      // As Cloud Run's log: the request lines among the instances' own, each line saying whose.
      if (e.kind() == v1::ServiceLogEntry::REQUEST)
        out << "[request] " << e.text();
      else
        out << "[" << e.instance() << "] " << e.text();
      if (!e.partial()) out << "\n";
      out.flush();
    }
    auto status = reader->Finish();
    if (!status.ok()) return ctx.report(status);
    return kExitOk;
  });
}

}  // namespace

void add_service_commands(CLI::App& app, Context& ctx) {
  add_list(app, ctx);
  auto* service = app.add_subcommand("service", "act on one service");
  service->require_subcommand(1);
  add_describe(*service, ctx);
  add_rm(*service, ctx);
  add_instances(*service, ctx);
  add_logs(*service, ctx);
}

}  // namespace svc::cli
