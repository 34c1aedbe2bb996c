#pragma once
// A small metrics registry the modules report into, and its Prometheus text exposition (format
// 0.0.4, what `promtool check metrics` reads). svcd serves render() at /metrics on the API socket
// and on the ingress port.
//
// Two ways to report:
//   - instruments the reporting code updates as things happen: counters, gauges and histograms,
//     each a family of children by label values. Children live as long as the registry and are
//     never moved, so a hot path looks its child up once and then pays one relaxed atomic add.
//   - collectors: a function the registry calls at scrape time that returns a family's samples
//     (tasks by state, the node's reserved capacity, usage totals from the store) — for figures
//     that another component already knows exactly and that would only drift if copied.
//
// Names follow Prometheus conventions: "svc_" prefix, base units (_seconds, _bytes), counters end
// in _total. A registration that breaks them, or reuses a name with another type or other label
// names, is a programming error and throws std::logic_error (at start-up, where families are
// made).
//
// Thread-safe. The registry owns every family and child; collectors are called on the scraping
// thread, outside the registry's lock, and must not block for long. Whoever registers a
// collector keeps what it reads alive until nothing scrapes any more (svcd stops its API server
// and ingress before the components they read).
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace svc::metrics {

enum class Type { kCounter, kGauge, kHistogram };

class Counter {
 public:
  void inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Cumulative buckets as Prometheus reads them; observe() finds its bucket by binary search and
// adds to it, the sum and nothing else (the count is the buckets' total, read at render).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double v);

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1 (+Inf)
  std::atomic<double> sum_{0};
};

// Latency buckets from 0.5 ms to 10 s: proxy and API calls (sub-ms) to cold starts and pulls.
const std::vector<double>& latency_buckets();

// A family of one instrument type: children by label values (in the order of label_names).
template <class T>
class Family {
 public:
  // The child with these label values, made on first use. A wrong number of values is a
  // programming error (std::logic_error).
  T& with(std::initializer_list<std::string_view> values) {
    return with(std::vector<std::string>(values.begin(), values.end()));
  }
  T& with(const std::vector<std::string>& values);
  // The child without labels (a family with no label names).
  T& get() { return with(std::vector<std::string>{}); }

 private:
  friend class Registry;
  Family(std::string name, std::vector<std::string> label_names, std::vector<double> bounds)
      : name_(std::move(name)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}

  std::string name_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;  // histograms
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// One sample a collector returns: label values (in the family's label order) and the value.
struct Sample {
  std::vector<std::string> labels;
  double value = 0;
};

class Registry {
 public:
  Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry();

  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(std::string name, std::string help,
                               std::vector<std::string> label_names = {},
                               std::vector<double> bounds = latency_buckets());
  // A counter or gauge family whose samples fn computes at every scrape.
  void collect(std::string name, std::string help, Type type, std::vector<std::string> label_names,
               std::function<std::vector<Sample>()> fn);

  // Every family, sorted by name, in the Prometheus text format.
  std::string render() const;
  // Changes at the start of every render(): collectors of several families that read one
  // source (a store's totals) read it once per scrape by remembering the serial they read at,
  // and never serve a previous scrape's figures.
  std::uint64_t render_serial() const { return renders_.load(std::memory_order_acquire); }

 private:
  struct Entry;
  Entry& add(std::string name, std::string help, Type type, std::vector<std::string> label_names);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> families_;
  mutable std::atomic<std::uint64_t> renders_{0};
};

// The text format's escapes: label values (\\, \", \n) and help text (\\, \n).
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// A sample value as the format writes it: "3", "0.25", "+Inf", "NaN".
std::string format_value(double v);

}  // namespace svc::metrics
