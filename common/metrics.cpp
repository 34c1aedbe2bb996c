#include "common/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace svc::metrics {

namespace {

bool name_char(char c, bool first) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return first ? alpha : alpha || (c >= '0' && c <= '9');
}

bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (!name_char(s[i], i == 0)) return false;
  return true;
}

// The conventions promtool's linter checks, enforced when a family is made.
void check_family(const std::string& name, Type type, const std::vector<std::string>& labels) {
  auto bad = [&](std::string_view why) {
    throw std::logic_error(fmt::format("metric {}: {}", name, why));
  };
  if (!valid_name(name)) bad("not a valid metric name");
  if (!name.starts_with("svc_")) bad("must start with svc_");
  bool total = name.ends_with("_total");
  if (type == Type::kCounter && !total) bad("a counter's name ends in _total");
  if (type != Type::kCounter && total) bad("only counters end in _total");
  for (const char* suffix : {"_bucket", "_count", "_sum"})
    if (type != Type::kHistogram && name.ends_with(suffix)) bad("reserved histogram suffix");
  for (const auto& l : labels) {
    if (!valid_name(l) || l.starts_with("__")) bad(fmt::format("bad label name \"{}\"", l));
    if (type == Type::kHistogram && l == "le") bad("\"le\" is the histogram's own label");
  }
}

std::string_view type_name(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// {a="x",b="y"} with an optional extra pair (a histogram's le); "" without labels.
std::string label_set(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i)
    out +=
        fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", names[i], escape_label_value(values[i]));
  if (!extra_name.empty())
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", extra_name, extra_value);
  return out.empty() ? out : "{" + out + "}";
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Integers (counts, bytes) print exactly as integers up to 2^53; the rest shortest round-trip.
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15)
    return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{}", v);
}

// ---- histogram ------------------------------------------------------------------------------

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double v) {
  // The first bound >= v: Prometheus buckets are "less than or equal".
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

const std::vector<double>& latency_buckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

// ---- families -------------------------------------------------------------------------------

template <class T>
T& Family<T>::with(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size())
    throw std::logic_error(fmt::format("metric {}: {} label values for {} labels", name_,
                                       values.size(), label_names_.size()));
  std::lock_guard lock(mu_);
  auto it = children_.find(values);
  if (it != children_.end()) return *it->second;
  std::unique_ptr<T> child;
  if constexpr (std::is_same_v<T, Histogram>)
    child = std::make_unique<Histogram>(bounds_);
  else
    child = std::make_unique<T>();
  return *children_.emplace(values, std::move(child)).first->second;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

struct Registry::Entry {
  std::string name, help;
  Type type = Type::kGauge;
  std::vector<std::string> label_names;
  std::unique_ptr<Family<Counter>> counters;
  std::unique_ptr<Family<Gauge>> gauges;
  std::unique_ptr<Family<Histogram>> histograms;
  std::function<std::vector<Sample>()> collector;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Entry& Registry::add(std::string name, std::string help, Type type,
                               std::vector<std::string> label_names) {
  check_family(name, type, label_names);
  if (help.empty()) throw std::logic_error(fmt::format("metric {}: no help text", name));
  auto it = families_.find(name);
  if (it != families_.end()) {
    const Entry& e = *it->second;
    if (e.type != type || e.label_names != label_names || e.collector)
      throw std::logic_error(fmt::format("metric {} registered twice, differently", name));
    return *it->second;
  }
  auto e = std::make_unique<Entry>();
  e->name = name;
  e->help = std::move(help);
  e->type = type;
  e->label_names = std::move(label_names);
  return *families_.emplace(std::move(name), std::move(e)).first->second;
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Entry& e = add(name, std::move(help), Type::kCounter, label_names);
  if (!e.counters)
    e.counters.reset(new Family<Counter>(std::move(name), std::move(label_names), {}));
  return *e.counters;
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> label_names) {
  std::lock_guard lock(mu_);
  Entry& e = add(name, std::move(help), Type::kGauge, label_names);
  if (!e.gauges) e.gauges.reset(new Family<Gauge>(std::move(name), std::move(label_names), {}));
  return *e.gauges;
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  Entry& e = add(name, std::move(help), Type::kHistogram, label_names);
  if (!e.histograms)
    e.histograms.reset(
        new Family<Histogram>(std::move(name), std::move(label_names), std::move(bounds)));
  return *e.histograms;
}

void Registry::collect(std::string name, std::string help, Type type,
                       std::vector<std::string> label_names,
                       std::function<std::vector<Sample>()> fn) {
  if (type == Type::kHistogram)
    throw std::logic_error(fmt::format("metric {}: collectors report counters or gauges", name));
  std::lock_guard lock(mu_);
  if (families_.count(name))
    throw std::logic_error(fmt::format("metric {} registered twice", name));
  Entry& e = add(name, std::move(help), type, std::move(label_names));
  e.collector = std::move(fn);
}

std::string Registry::render() const {
  renders_.fetch_add(1, std::memory_order_acq_rel);
  // Copy what to render under the lock; collectors run outside it (they take their own locks).
  struct Job {
    const Entry* entry;
    std::vector<std::pair<std::vector<std::string>, const void*>> children;
  };
  std::vector<Job> jobs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : families_) {
      Job job{e.get(), {}};
      auto take = [&](const auto& family) {
        if (!family) return;
        std::lock_guard fl(family->mu_);
        for (const auto& [labels, child] : family->children_)
          job.children.emplace_back(labels, child.get());
      };
      take(e->counters);
      take(e->gauges);
      take(e->histograms);
      jobs.push_back(std::move(job));
    }
  }
  std::string out;
  for (const Job& job : jobs) {
    const Entry& e = *job.entry;
    std::vector<Sample> samples;
    if (e.collector) {
      samples = e.collector();
      std::sort(samples.begin(), samples.end(),
                [](const Sample& a, const Sample& b) { return a.labels < b.labels; });
    }
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", e.name, escape_help(e.help), e.name,
                       type_name(e.type));
    for (const Sample& s : samples)
      out += fmt::format("{}{} {}\n", e.name, label_set(e.label_names, s.labels),
                         format_value(s.value));
    for (const auto& [labels, ptr] : job.children) {
      if (e.type == Type::kCounter) {
        out += fmt::format("{}{} {}\n", e.name, label_set(e.label_names, labels),
                           format_value(static_cast<const Counter*>(ptr)->value()));
      } else if (e.type == Type::kGauge) {
        out += fmt::format("{}{} {}\n", e.name, label_set(e.label_names, labels),
                           format_value(static_cast<const Gauge*>(ptr)->value()));
      } else {
        const auto* h = static_cast<const Histogram*>(ptr);
        Histogram::Snapshot snap = h->snapshot();
        for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
          std::string le =
              i < h->bounds().size() ? format_value(h->bounds()[i]) : std::string("+Inf");
          out += fmt::format("{}_bucket{} {}\n", e.name, label_set(e.label_names, labels, "le", le),
                             snap.cumulative[i]);
        }
        out += fmt::format("{}_sum{} {}\n", e.name, label_set(e.label_names, labels),
                           format_value(snap.sum));
        out += fmt::format("{}_count{} {}\n", e.name, label_set(e.label_names, labels),
                           snap.cumulative.back());
      }
    }
  }
  return out;
}

}  // namespace svc::metrics
