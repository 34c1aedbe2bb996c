#pragma once
// The task controller: the state machine PENDING -> PULLING -> STARTING -> RUNNING -> STOPPING
// -> STOPPED, admission against the node's capacity, timeouts, stop with grace, and re-adoption
// of every task after svcd restarts. It sees images, sandboxes and storage only through the
// ports in ports.hpp, so it is unit-tested with fakes and a fake clock.
//
// Threading: one mutex guards the task table. Blocking work (pulls, launches, runtime calls that
// can take long) runs on the Executor without the lock. Every state change is written to the
// TaskStore (under the lock, so the order of writes is the order of changes) before callers or
// subscribers hear of it.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "scheduler/capacity.hpp"
#include "scheduler/resources.hpp"
#include "scheduler/tasks/event_hub.hpp"
#include "scheduler/tasks/ports.hpp"
#include "scheduler/tasks/task.hpp"

namespace svc::scheduler {

class TaskController {
 public:
  struct Options {
    // What a task that asks for nothing requests and is limited to ([node] default_* keys).
    ResourceDefaults defaults = default_resource_defaults();
    ValidationLimits limits;
    // How long a stopped task started with auto_remove waits for someone to read its exit
    // code (Wait) before it is deleted anyway.
    std::chrono::milliseconds auto_remove_linger{60'000};
    // Where pulls run: they block for as long as a registry takes, so they must not hold the
    // main executor's workers (a task whose image is local starts meanwhile). Borrowed; null:
    // the main executor.
    Executor* pulls = nullptr;
    // Sequence numbers and history of the event stream (where this run's numbers start, and
    // how the high-water mark is recorded for the next svcd).
    EventHub::Options events;
    // How long a task run with hold_for_attach waits for its first Attach before it is started
    // anyway (the client that ran it went away, say).
    std::chrono::milliseconds attach_hold{10'000};
  };

  // capacity: the node's one admission ledger, shared with the services controller; tasks
  // reserve their requests there as "task:<id>". Borrowed: it must outlive the controller.
  TaskController(TaskStore& store, ImageSource& images, TaskRuntime& runtime, Executor& executor,
                 const Clock& clock, Capacity& capacity, Options options);
  ~TaskController();
  TaskController(const TaskController&) = delete;
  TaskController& operator=(const TaskController&) = delete;

  // At start: loads every task and makes its state true again. node_rebooted: the machine
  // restarted since svcd last ran (boot id changed), so every sandbox is gone.
  Result<> recover(bool node_rebooted);

  // Validates, admits (or queues, or refuses), records the task as PENDING and starts it in the
  // background. Answers once the task is stored.
  Result<Task> run(TaskSpec spec);
  // By id, unique id prefix (at least 4 characters), or name.
  Result<Task> get(std::string_view ref) const;
  Result<std::pair<std::vector<Task>, std::string>> list(const TaskFilter& filter) const;
  // drain: asked by a node drain (the stop reason is NodeDrained, not StoppedByUser).
  Result<Task> stop(std::string_view ref, std::optional<int> signal, std::optional<Millis> grace,
                    bool drain = false);
  Result<> remove(std::string_view ref, bool force);
  // Blocks until the task is STOPPED, the deadline passes (DEADLINE_EXCEEDED) or cancelled()
  // is true (CANCELLED).
  Result<Task> wait(std::string_view ref, std::chrono::steady_clock::time_point deadline,
                    const std::function<bool()>& cancelled);
  std::shared_ptr<EventHub::Subscription> subscribe(std::string task_id = {});
  // The same, first replaying the kept events after since_seq (the Events API's resume). A
  // sequence no event has had yet is refused.
  Result<std::shared_ptr<EventHub::Subscription>> subscribe_since(std::string task_id,
                                                                  std::uint64_t since_seq);
  // A client of the task's stdio (controller_stdio.cpp). Waits while the task is pending,
  // pulling or starting (until deadline or cancelled()); FAILED_PRECONDITION once it stopped.
  Result<std::unique_ptr<StdioStream>> attach(std::string_view ref, const AttachRequest& request,
                                              std::chrono::steady_clock::time_point deadline,
                                              const std::function<bool()>& cancelled);
  // A process in the running task's sandbox, its stream attached before it starts.
  // FAILED_PRECONDITION unless the task is running.
  Result<std::unique_ptr<StdioStream>> exec(std::string_view ref, const ExecRequest& request);

  // Refreshes a running task's usage from its cgroup.
  Result<Task> refresh_usage(std::string_view ref);

  int running_count() const;
  // Every task's id (stopped ones too): what the runtime must keep.
  std::set<std::string> task_ids() const;
  const ResourceDefaults& resource_defaults() const { return options_.defaults; }
  // How many tasks the controller holds in each state (metrics: svc_tasks{state}).
  std::map<TaskState, int> count_by_state() const;

  // svcd is stopping: no new tasks, queued work dropped. Sandboxes keep running; their shims
  // outlive svcd and recover() re-adopts them.
  void shutdown();

 private:
  struct Entry {
    Task task;      // as it is (what the controller acts on)
    Task recorded;  // as the store has it
    // While a change that already happened (the sandbox ran, it exited) could not be recorded:
    // readers see `recorded`, and the events of the unrecorded changes wait in `unpublished`,
    // to go out in order once a retry records the task. Nothing is shown or announced that a
    // restart of svcd could take back.
    bool behind = false;
    std::vector<TaskEvent> unpublished;
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
    std::uint64_t timeout_timer = 0;
    std::uint64_t remove_timer = 0;
    std::uint64_t record_timer = 0;  // retries recording `task` while behind
    std::uint64_t start_timer = 0;   // retries a start whose first step could not be recorded
    Millis retry_backoff{0};
    bool retry_start = false;  // start_task may go on from PULLING (a retry after a failure)
    bool reserved = false;     // holds its request in the Capacity ledger
    bool launched = false;     // a sandbox exists (or may exist) for it
    bool held = false;         // launched with hold, not yet released by an attach or the timer
    int waiters = 0;
  };
  using Lock = std::unique_lock<std::mutex>;

  // What a failed store write means for a change (the task is recorded as a whole row).
  enum class Unrecorded {
    kUndo,  // svcd has not acted on it yet: the task goes back as it was, the caller fails
    kKeep,  // it already happened: kept, shown as the last recorded copy, recorded by a retry
  };
  static const Task& shown(const Entry& e) { return e.behind ? e.recorded : e.task; }

  Entry* find_locked(std::string_view ref);
  const Entry* find_locked(std::string_view ref) const;
  Result<Entry*> must_find_locked(std::string_view ref);
  std::string new_id_locked() const;
  static std::string holder(const std::string& id) { return "task:" + id; }
  bool reserve_locked(Entry& e, Capacity::Refusal* refused);
  void readopt_reservation_locked(Entry& e);
  // Records e.task (changed by the caller from `before`) and announces `message` (none when
  // empty); on a store failure as `mode` says, with the error (what, on which task, the cause).
  Result<> record_locked(Entry& e, const Task& before, std::string message, Unrecorded mode);
  Result<> set_state_locked(Entry& e, TaskState state, std::string message, Unrecorded mode);
  Result<> finish_locked(Entry& e, std::string_view reason, std::string message, Unrecorded mode);
  TaskEvent event_for(const Task& task, std::string message) const;
  void recorded_locked(Entry& e);
  void arm_record_retry_locked(Entry& e);
  void retry_record(const std::string& id);
  Millis next_backoff_locked(Entry& e);
  void retry_start_locked(Entry& e);
  void arm_drain_retry_locked();
  void release_capacity_locked(Entry& e);
  void drain_queue_locked();
  void arm_timeout_locked(Entry& e);
  void arm_auto_remove_locked(Entry& e);
  void start_async(const std::string& id);
  // The start, in steps: record PULLING and take a local image (main executor); or pull it
  // (pull executor); then record STARTING and launch (main executor).
  void start_task(const std::string& id);
  void pull_image(const std::string& id, const std::string& reference,
                  std::shared_ptr<std::atomic<bool>> cancel);
  void launch_task(const std::string& id, Result<ResolvedImage> image);
  void on_exit(const std::string& id, const ExitInfo& info);
  void on_timeout(const std::string& id);
  void arm_attach_hold_locked(Entry& e);
  void cleanup_async(const std::string& id, bool kill_first);

  TaskStore& store_;
  ImageSource& images_;
  TaskRuntime& runtime_;
  Executor& executor_;
  const Clock& clock_;
  Capacity& capacity_;
  Options options_;
  // Capacity's release listener reaches the controller through this, so a listener that runs
  // while the controller is being destroyed finds nothing (the ledger outlives controllers).
  struct Lifeline {
    std::mutex mu;
    TaskController* self = nullptr;
  };
  std::shared_ptr<Lifeline> lifeline_ = std::make_shared<Lifeline>();
  std::uint64_t release_listener_ = 0;
  EventHub events_;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, Entry> tasks_;
  std::deque<std::string> queue_;  // admitted with `queue`, waiting for capacity, FIFO
  std::uint64_t drain_timer_ = 0;  // retries the queue after its head could not be recorded
  bool shutting_down_ = false;
};

}  // namespace svc::scheduler
