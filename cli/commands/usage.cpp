// svctl usage: what ran, what it is billed and what was measured, summed per task, service,
// revision, day or label, as a table, JSON or CSV; --records lists the runs themselves.
#include <chrono>
#include <iostream>

#include <google/protobuf/util/time_util.h>

#include "cli/context.hpp"
#include "common/units.hpp"

namespace svc::cli {

namespace {

using google::protobuf::util::TimeUtil;
using Clock = std::chrono::system_clock;

// "1h" / "7d" ago, a UTC date ("2026-01-31"), a UTC time ("2026-01-31T15:04:05Z",
// "2026-01-31T15:04"), or "now".
Result<Clock::time_point> parse_when(std::string_view text, std::string_view flag,
                                     Clock::time_point now) {
  auto bad = [&] {
    return fail(Code::kInvalidArgument,
                "{} \"{}\": expected a time ago (30m, 1h, 7d), a UTC date (2026-01-31) or a UTC "
                "time (2026-01-31T15:04:05Z)",
                flag, text);
  };
  if (text == "now") return now;
  if (!text.empty() && text.front() >= '0' && text.front() <= '9' && text.size() < 10) {
    auto d = parse_duration(text);
    if (!d) return bad();
    return now - *d;
  }
  auto digits = [&](std::size_t at, std::size_t n) -> std::optional<int> {
    if (at + n > text.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  auto y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2);
  if (!y || !mo || !d || text[4] != '-' || text[7] != '-') return bad();
  std::chrono::year_month_day ymd{std::chrono::year{*y},
                                  std::chrono::month{static_cast<unsigned>(*mo)},
                                  std::chrono::day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return bad();
  Clock::time_point t = std::chrono::sys_days(ymd);
  if (text.size() == 10) return t;
  if (text.size() < 16 || (text[10] != 'T' && text[10] != ' ') || text[13] != ':') return bad();
  auto h = digits(11, 2), mi = digits(14, 2);
  if (!h || !mi || *h > 23 || *mi > 59) return bad();
  t += std::chrono::hours(*h) + std::chrono::minutes(*mi);
  std::size_t pos = 16;
  if (pos < text.size() && text[pos] == ':') {
    auto s = digits(17, 2);
    if (!s || *s > 59) return bad();
    t += std::chrono::seconds(*s);
    pos = 19;
  }
  if (pos < text.size() && text[pos] == 'Z') ++pos;
  if (pos != text.size()) return bad();
  return t;
}

google::protobuf::Timestamp timestamp(Clock::time_point t) {
  return TimeUtil::MillisecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& cells) {
  std::string out;
  for (std::size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + csv_cell(cells[i]);
  return out + "\n";
}

// What the row of runs without a key is called in a table.
std::string none_name(v1::UsageQueryRequest::GroupBy by, const std::string& label) {
  switch (by) {
    case v1::UsageQueryRequest::SERVICE:
    case v1::UsageQueryRequest::REVISION:
      return "(tasks)";
    case v1::UsageQueryRequest::LABEL:
      return fmt::format("(no {} label)", label);
    case v1::UsageQueryRequest::DAY:
      return "-";
    default:
      return "(service instances)";
  }
}

struct Opts {
  std::string since, until, by = "task", output;
  bool records = false;
  std::string task, service;
  int limit = 0;
};

Result<std::pair<v1::UsageQueryRequest::GroupBy, std::string>> parse_by(const std::string& by) {
  if (by == "task") return std::make_pair(v1::UsageQueryRequest::TASK, std::string());
  if (by == "service") return std::make_pair(v1::UsageQueryRequest::SERVICE, std::string());
  if (by == "revision") return std::make_pair(v1::UsageQueryRequest::REVISION, std::string());
  if (by == "day") return std::make_pair(v1::UsageQueryRequest::DAY, std::string());
  if (by.starts_with("label:") && by.size() > 6)
    return std::make_pair(v1::UsageQueryRequest::LABEL, by.substr(6));
  return fail(Code::kInvalidArgument,
              "--by \"{}\": expected task, service, revision, day or label:KEY (e.g. label:team)",
              by);
}

int summary(Context& ctx, const Opts& o, const std::string& format) {
  auto by = parse_by(o.by);
  if (!by) return ctx.report(by.error());
  v1::UsageQueryRequest req;
  req.set_group_by(by->first);
  req.set_label_key(by->second);
  auto now = Clock::now();
  if (!o.since.empty()) {
    auto t = parse_when(o.since, "--since", now);
    if (!t) return ctx.report(t.error());
    *req.mutable_since() = timestamp(*t);
  }
  if (!o.until.empty()) {
    auto t = parse_when(o.until, "--until", now);
    if (!t) return ctx.report(t.error());
    *req.mutable_until() = timestamp(*t);
  }
  req.set_page_size(o.limit > 0 && o.limit < 1000 ? o.limit : 1000);
  v1::UsageQueryResponse all;
  for (bool first = true;; first = false) {
    v1::UsageQueryResponse page;
    auto call = ctx.client().context();
    auto status = ctx.client().usage().Query(call.get(), req, &page);
    if (!status.ok()) return ctx.report(status);
    if (first) {
      *all.mutable_total() = page.total();
      *all.mutable_pricing() = page.pricing();
      *all.mutable_until() = page.until();
    }
    for (auto& r : *page.mutable_rows()) {
      if (o.limit > 0 && all.rows_size() >= o.limit) break;
      *all.add_rows() = std::move(r);
    }
    bool full = o.limit > 0 && all.rows_size() >= o.limit;
    if (page.next_page_token().empty() || full) {
      if (full) all.set_next_page_token(page.next_page_token());
      break;
    }
    req.set_page_token(page.next_page_token());
  }
  if (format == "json") {
    print_json(std::cout, all);
    return kExitOk;
  }
  const auto& p = all.pricing();
  if (format == "csv") {
    std::cout << csv_line({o.by == "day" ? "day" : "name", "runs", "open_runs", "run_seconds",
                           "billed_seconds", "vcpu_seconds", "gib_seconds", "requests",
                           "cpu_seconds", "cost", "currency"});
    auto line = [&](const v1::UsageRow& r, const std::string& name) {
      std::cout << csv_line({name, std::to_string(r.runs()), std::to_string(r.open_runs()),
                             r.run_seconds(), std::to_string(r.billed_seconds()), r.vcpu_seconds(),
                             r.gib_seconds(), std::to_string(r.requests()), r.cpu_seconds(),
                             r.cost(), p.currency()});
    };
    for (const auto& r : all.rows()) line(r, r.name());
    line(all.total(), "TOTAL");
    return kExitOk;
  }
  std::string first = o.by == "day" ? "DAY"
                      : by->first == v1::UsageQueryRequest::LABEL
                          ? fmt::format("LABEL {}", by->second)
                          : std::string(o.by == "task"      ? "TASK"
                                        : o.by == "service" ? "SERVICE"
                                                            : "REVISION");
  Table t({first, "RUNS", "RUN-S", "BILLED-S", "VCPU-S", "GIB-S", "REQUESTS", "CPU-S USED",
           fmt::format("COST ({})", p.currency())});
  bool any_open = false;
  auto add = [&](const v1::UsageRow& r, std::string name) {
    if (r.open_runs() > 0) {
      name += " *";
      any_open = true;
    }
    t.add({std::move(name), std::to_string(r.runs()), r.run_seconds(),
           std::to_string(r.billed_seconds()), r.vcpu_seconds(), r.gib_seconds(),
           std::to_string(r.requests()), r.cpu_seconds(), r.cost()});
  };
  for (const auto& r : all.rows())
    add(r, r.name().empty() ? none_name(by->first, by->second) : r.name());
  add(all.total(), "TOTAL");
  t.print(std::cout);
  if (any_open) std::cout << "* still running: figures so far\n";
  if (!all.next_page_token().empty())
    std::cout << fmt::format("(first {} rows; --limit 0 for all)\n", all.rows_size());
  std::cout << fmt::format(
      "Billed: {} at {} {} per vCPU-second, {} per GiB-second, {} per million requests; "
      "tasks at least {}; services by default per {}\n",
      p.billed_resources(), p.vcpu_second(), p.currency(), p.gib_second(), p.million_requests(),
      format_duration(
          std::chrono::milliseconds(TimeUtil::DurationToMilliseconds(p.task_minimum()))),
      p.service_mode() == "request" ? "request-second" : "instance-second");
  return kExitOk;
}

int records(Context& ctx, const Opts& o, const std::string& format) {
  v1::UsageRecordsRequest req;
  req.set_task(o.task);
  req.set_service(o.service);
  auto now = Clock::now();
  if (!o.since.empty()) {
    auto t = parse_when(o.since, "--since", now);
    if (!t) return ctx.report(t.error());
    *req.mutable_since() = timestamp(*t);
  }
  if (!o.until.empty()) {
    auto t = parse_when(o.until, "--until", now);
    if (!t) return ctx.report(t.error());
    *req.mutable_until() = timestamp(*t);
  }
  req.set_page_size(o.limit > 0 && o.limit < 1000 ? o.limit : 1000);
  v1::UsageRecordsResponse all;
  for (;;) {
    v1::UsageRecordsResponse page;
    auto call = ctx.client().context();
    auto status = ctx.client().usage().Records(call.get(), req, &page);
    if (!status.ok()) return ctx.report(status);
    for (auto& r : *page.mutable_records()) {
      if (o.limit > 0 && all.records_size() >= o.limit) break;
      *all.add_records() = std::move(r);
    }
    if (page.next_page_token().empty() || (o.limit > 0 && all.records_size() >= o.limit)) break;
    req.set_page_token(page.next_page_token());
  }
  if (format == "json") {
    print_json(std::cout, all);
    return kExitOk;
  }
  std::vector<std::string> headers = {"RUN",    "START",      "RUN-S",       "BILLED-S", "VCPU",
                                      "MEMORY", "CPU-S USED", "PEAK MEMORY", "COST",     "END"};
  if (format == "csv") {
    std::cout << csv_line({"id", "name", "start", "end", "run_seconds", "billed_seconds",
                           "billed_vcpu_millis", "billed_memory_mib", "cpu_seconds",
                           "memory_peak_bytes", "memory_average_bytes", "requests", "cost",
                           "currency", "end_reason"});
    for (const auto& r : all.records())
      std::cout << csv_line(
          {r.id(), r.kind() == v1::UsageRecord::TASK ? r.task_name() : r.service(),
           TimeUtil::ToString(r.start()), r.open() ? std::string() : TimeUtil::ToString(r.end()),
           r.run_seconds(), std::to_string(r.billed_seconds()),
           std::to_string(r.billed_vcpu_millis()), std::to_string(r.billed_memory_mib()),
           r.cpu_seconds(), std::to_string(r.memory_peak_bytes()),
           std::to_string(r.memory_average_bytes()), std::to_string(r.requests()), r.cost(),
           r.currency(), r.end_reason()});
    return kExitOk;
  }
  Table t(headers);
  for (const auto& r : all.records()) {
    std::string name = r.kind() == v1::UsageRecord::TASK
                           ? r.task_name()
                           : fmt::format("{}/{}", r.revision(), r.instance());
    std::string end = r.open()            ? "running *"
                      : r.end_estimated() ? r.end_reason() + " (end estimated)"
                                          : r.end_reason();
    t.add({name, TimeUtil::ToString(r.start()), r.run_seconds(), std::to_string(r.billed_seconds()),
           format_cpu_millis(r.billed_vcpu_millis()),
           format_size_human(static_cast<std::uint64_t>(r.billed_memory_mib()) << 20),
           r.cpu_seconds(), format_size_human(static_cast<std::uint64_t>(r.memory_peak_bytes())),
           fmt::format("{} {}", r.cost(), r.currency()), end});
  }
  t.print(std::cout);
  return kExitOk;
}

}  // namespace

void add_usage_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "usage", "what ran and what it costs: billed beside measured, per task, service, day...");
  cmd->add_option("--since", o->since,
                  "runs that started since: a time ago (1h, 7d), a UTC date or time "
                  "(2026-01-31, 2026-01-31T15:00:00Z); default: all");
  cmd->add_option("--until", o->until, "... and before this time; default: now");
  cmd->add_option("--by", o->by, "group by task, service, revision, day or label:KEY")
      ->capture_default_str();
  cmd->add_option("-o,--output", o->output, "output format (default: the global -o)")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  cmd->add_flag("--records", o->records, "list the runs themselves instead of sums");
  cmd->add_option("--task", o->task, "--records: only this task's runs (id or name)");
  cmd->add_option("--service", o->service, "--records: only this service's instances");
  cmd->add_option("--limit", o->limit, "at most this many rows (0: all)")->capture_default_str();
  set_runner(cmd, [&ctx, o]() -> int {
    std::string format = !o->output.empty() ? o->output : ctx.json() ? "json" : "table";
    if (!o->records && (!o->task.empty() || !o->service.empty()))
      return ctx.report(Error(Code::kInvalidArgument,
                              "--task and --service pick records: add --records, or use --by "
                              "task / --by service for sums"));
    return o->records ? records(ctx, *o, format) : summary(ctx, *o, format);
  });
}

}  // namespace svc::cli
