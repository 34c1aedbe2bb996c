#pragma once
// The node's capacity, shared by everything that runs sandboxes: tasks and service instances
// reserve what they *request* here (admission), apart from what their cgroup *limits* them to.
// One ledger for the node, so tasks and services see the same free room.
//
// Thread-safe (its own mutex, never held while calling out). Listeners added with on_release()
// run after a release, on the thread that released, outside the ledger's lock: a listener must
// not take a lock its caller may hold (the controllers post the work to their executor).
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace svc::scheduler {

// What a sandbox reserves on the node.
struct Amount {
  std::int64_t cpu_millis = 0;
  std::uint64_t memory_bytes = 0;
  Amount& operator+=(const Amount& o) {
    cpu_millis += o.cpu_millis;
    memory_bytes += o.memory_bytes;
    return *this;
  }
  bool operator==(const Amount&) const = default;
};

class Capacity {
 public:
  // total: what the node can allocate ([node] cpus and memory).
  explicit Capacity(Amount total) : total_(total) {}

  const Amount& total() const { return total_; }
  // What is reserved now, and by how many holders.
  Amount reserved() const;
  std::size_t holders() const;
  Amount free() const;

  // Could `need` ever fit on an empty node?
  bool can_ever_fit(const Amount& need) const;
  // Why try_reserve refused: admission is closed (cordon), or the node is full.
  struct Refusal {
    bool cordoned = false;
    std::string why;  // for the user: the cordon's reason, or describe_free()
  };
  // Reserves need for holder ("task:<id>", "instance:<id>"); false (and why, for the user) when
  // it does not fit now. Reserving again for the same holder replaces its amount.
  bool try_reserve(const std::string& holder, const Amount& need, std::string* why = nullptr);
  // The same, recording what the holder's cgroup is limited to (for `svctl node info`; a limit
  // is never admitted against anything). A cpu limit of 0 means "no quota".
  bool try_reserve(const std::string& holder, const Amount& need, const Amount& limit,
                   std::string* why = nullptr);
  bool try_reserve(const std::string& holder, const Amount& need, const Amount& limit,
                   Refusal* refused);
  // Reserves even when it does not fit (re-adoption after a restart: the sandbox already runs).
  void force_reserve(const std::string& holder, const Amount& need);
  void force_reserve(const std::string& holder, const Amount& need, const Amount& limit);
  // Idempotent; runs the release listeners when something was held.
  void release(const std::string& holder);

  // Closed admission (svctl node drain): while cordoned, try_reserve refuses every new holder
  // and gives `reason` as why; holders already admitted keep their room and may re-reserve, and
  // force_reserve (re-adoption) still works. Cordoning again keeps the first reason (false).
  // uncordon() runs the release listeners, so what waits for room (queued tasks, services below
  // their minimum) tries again; false when it was not cordoned.
  bool cordon(std::string reason);
  bool uncordon();
  std::optional<std::string> cordoned() const;
  bool holds(const std::string& holder) const;

  // Returns an id for remove_listener (a controller that goes away before the ledger must).
  std::uint64_t on_release(std::function<void()> listener);
  void remove_listener(std::uint64_t id);

  // What `svctl node info` shows: requests, limits (summed; CPU limits only of holders that
  // have one) and how many holders may use idle CPU without a quota.
  struct Totals {
    Amount total;
    Amount reserved;
    Amount limits;
    std::size_t holders = 0;
    std::size_t without_cpu_limit = 0;
  };
  Totals totals() const;

  // "the node has 0.5 vCPU and 1.2 GiB free (of 2 vCPU and 21.6 GiB, 12 admitted)"
  std::string describe_free() const;

 private:
  std::string describe_free_locked() const;

  struct Held {
    Amount need;
    Amount limit;
  };
  bool reserve_locked(const std::string& holder, const Amount& need, const Amount& limit,
                      bool force, Refusal* refused);
  std::vector<std::function<void()>> listeners_locked() const;

  const Amount total_;
  mutable std::mutex mu_;
  std::map<std::string, Held, std::less<>> held_;
  Amount reserved_;
  std::optional<std::string> cordoned_;
  std::map<std::uint64_t, std::function<void()>> listeners_;
  std::uint64_t next_listener_ = 1;
};

}  // namespace svc::scheduler
