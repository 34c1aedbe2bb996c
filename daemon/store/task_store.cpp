#include "daemon/store/task_store.hpp"

#include <nlohmann/json.hpp>

#include "common/clock.hpp"

namespace svc::daemon {

using scheduler::Task;
using scheduler::TaskSpec;
using scheduler::TaskState;
using json = nlohmann::json;

std::string SqlTaskStore::spec_to_json(const TaskSpec& s) {
  json env = json::array();
  for (const auto& [k, v] : s.env) env.push_back(json::array({k, v}));
  json j = {
      {"name", s.name},
      {"image", s.image},
      {"entrypoint", s.entrypoint},
      {"reset_entrypoint", s.reset_entrypoint},
      {"args", s.args},
      {"env", env},
      {"labels", s.labels},
      {"workdir", s.workdir},
      {"user", s.user},
      {"cpu_millis", s.cpu_millis},
      {"memory_bytes", s.memory_bytes},
      {"pids", s.pids},
      {"cpu_request_millis", s.cpu_request_millis},
      {"cpu_limit_millis", s.cpu_limit_millis},
      {"memory_request_bytes", s.memory_request_bytes},
      {"memory_limit_bytes", s.memory_limit_bytes},
      {"timeout_ms", s.timeout.count()},
      {"network", static_cast<int>(s.network)},
      {"auto_remove", s.auto_remove},
      {"queue", s.queue},
      {"stop_signal", s.stop_signal},
      {"stop_grace_ms", s.stop_grace.count()},
      {"tty", s.tty},
      {"open_stdin", s.open_stdin},
      {"hold_for_attach", s.hold_for_attach},
      {"init", s.init},
  };
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<TaskSpec> SqlTaskStore::spec_from_json(std::string_view text) {
  try {
    json j = json::parse(text);
    TaskSpec s;
    s.name = j.at("name").get<std::string>();
    s.image = j.at("image").get<std::string>();
    s.entrypoint = j.value("entrypoint", std::vector<std::string>{});
    s.reset_entrypoint = j.value("reset_entrypoint", false);
    s.args = j.value("args", std::vector<std::string>{});
    for (const auto& kv : j.value("env", json::array()))
      s.env.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::string>());
    s.labels = j.value("labels", std::map<std::string, std::string>{});
    s.workdir = j.value("workdir", "");
    s.user = j.value("user", "");
    s.cpu_millis = j.value("cpu_millis", std::int64_t{0});
    s.memory_bytes = j.value("memory_bytes", std::uint64_t{0});
    s.pids = j.value("pids", std::int64_t{0});
    s.cpu_request_millis = j.value("cpu_request_millis", std::int64_t{0});
    s.cpu_limit_millis = j.value("cpu_limit_millis", std::int64_t{0});
    s.memory_request_bytes = j.value("memory_request_bytes", std::uint64_t{0});
    s.memory_limit_bytes = j.value("memory_limit_bytes", std::uint64_t{0});
    s.timeout = scheduler::Millis(j.value("timeout_ms", std::int64_t{0}));
    s.network = static_cast<scheduler::NetworkMode>(j.value("network", 1));
    s.auto_remove = j.value("auto_remove", false);
    s.queue = j.value("queue", false);
    s.stop_signal = j.value("stop_signal", "");
    s.stop_grace = scheduler::Millis(j.value("stop_grace_ms", std::int64_t{0}));
    s.tty = j.value("tty", false);
    s.open_stdin = j.value("open_stdin", false);
    s.hold_for_attach = j.value("hold_for_attach", false);
    s.init = j.value("init", false);
    return s;
  } catch (const std::exception& e) {
    return fail(Code::kDataLoss, "task spec in svcd.db is not valid: {}", e.what());
  }
}

std::string SqlTaskStore::resources_to_json(const scheduler::Resources& r) {
  json j = {
      {"cpu_request_millis", r.cpu_request_millis},
      {"cpu_limit_millis", r.cpu_limit_millis},
      {"memory_request_bytes", r.memory_request_bytes},
      {"memory_limit_bytes", r.memory_limit_bytes},
      {"pids", r.pids},
  };
  return j.dump();
}

Result<scheduler::Resources> SqlTaskStore::resources_from_json(std::string_view text,
                                                               const TaskSpec& spec) {
  scheduler::Resources r;
  if (text.empty()) {
    // A row written before requests and limits were apart: the spec holds what the task was
    // admitted with (then every task reserved and was limited to the same amounts).
    r.cpu_request_millis = r.cpu_limit_millis = spec.cpu_millis;
    r.memory_request_bytes = r.memory_limit_bytes = spec.memory_bytes;
    r.pids = spec.pids;
    return r;
  }
  try {
    json j = json::parse(text);
    r.cpu_request_millis = j.at("cpu_request_millis").get<std::int64_t>();
    r.cpu_limit_millis = j.at("cpu_limit_millis").get<std::int64_t>();
    r.memory_request_bytes = j.at("memory_request_bytes").get<std::uint64_t>();
    r.memory_limit_bytes = j.at("memory_limit_bytes").get<std::uint64_t>();
    r.pids = j.at("pids").get<std::int64_t>();
    return r;
  } catch (const std::exception& e) {
    return fail(Code::kDataLoss, "task resources in svcd.db are not valid: {}", e.what());
  }
}

namespace {

constexpr const char* kColumns =
    "id, name, spec, state, exit_code, signal, stop_reason, stop_message, image_digest, pid, "
    "queued_reason, created_at, pulling_at, starting_at, running_at, stopping_at, stopped_at, "
    "cpu_seconds, memory_peak_bytes, stop_requested, timed_out, resources";

}  // namespace

Result<> SqlTaskStore::write(const Task& t, bool insert) {
  auto tx = SVC_TRY(store_.begin());
  std::string sql =
      insert
          ? fmt::format("INSERT INTO tasks({}) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        kColumns)
          : std::string(
                "UPDATE tasks SET id=?1, name=?2, spec=?3, state=?4, exit_code=?5, signal=?6, "
                "stop_reason=?7, stop_message=?8, image_digest=?9, pid=?10, queued_reason=?11, "
                "created_at=?12, pulling_at=?13, starting_at=?14, running_at=?15, "
                "stopping_at=?16, stopped_at=?17, cpu_seconds=?18, memory_peak_bytes=?19, "
                "stop_requested=?20, timed_out=?21, resources=?22 WHERE id=?1");
  auto st = SVC_TRY(tx.prepare(sql));
  st.bind(1, t.id).bind(2, t.spec.name).bind(3, spec_to_json(t.spec));
  st.bind(4, static_cast<int>(t.state));
  if (t.exit_code)
    st.bind(5, *t.exit_code);
  else
    st.bind_null(5);
  st.bind(6, t.signal).bind(7, t.stop_reason).bind(8, t.stop_message).bind(9, t.image_digest);
  st.bind(10, t.pid).bind(11, t.queued_reason).bind(12, unix_millis(t.created_at));
  bind_time(st, 13, t.pulling_at);
  bind_time(st, 14, t.starting_at);
  bind_time(st, 15, t.running_at);
  bind_time(st, 16, t.stopping_at);
  bind_time(st, 17, t.stopped_at);
  st.bind(18, t.usage.cpu_seconds).bind(19, static_cast<std::int64_t>(t.usage.memory_peak_bytes));
  st.bind(20, t.stop_requested ? 1 : 0).bind(21, t.timed_out ? 1 : 0);
  st.bind(22, resources_to_json(t.resources));
  auto ran = st.run();
  if (!ran) {
    if (insert && ran.error().code() == Code::kAlreadyExists)
      return fail(Code::kAlreadyExists, "a task named \"{}\" already exists", t.spec.name);
    return tl::unexpected(ran.error());
  }
  if (!insert && tx.changes() == 0) return fail(Code::kNotFound, "no task {} in the store", t.id);
  if (listener_) SVC_TRY(listener_->on_task_written(tx, t));
  return tx.commit();
}

Result<> SqlTaskStore::insert(const Task& t) { return write(t, true); }
Result<> SqlTaskStore::update(const Task& t) { return write(t, false); }

Result<> SqlTaskStore::remove(const std::string& id) {
  auto tx = SVC_TRY(store_.begin());
  auto st = SVC_TRY(tx.prepare("DELETE FROM tasks WHERE id = ?"));
  st.bind(1, id);
  SVC_TRY(st.run());
  if (listener_) SVC_TRY(listener_->on_task_removed(tx, id));
  return tx.commit();
}

Result<std::vector<Task>> SqlTaskStore::load_all() {
  return store_.read([&](Store& s) -> Result<std::vector<Task>> {
    auto st =
        SVC_TRY(s.prepare(fmt::format("SELECT {} FROM tasks ORDER BY created_at, id", kColumns)));
    std::vector<Task> out;
    while (SVC_TRY(st.step())) {
      Task t;
      t.id = st.text(0);
      t.spec = SVC_TRY_CTX(spec_from_json(st.text(2)), "task {}", t.id);
      t.spec.name = st.text(1);
      int state = static_cast<int>(st.int64(3));
      if (state < 1 || state > 6)
        return fail(Code::kDataLoss, "task {} has unknown state {}", t.id, state);
      t.state = static_cast<TaskState>(state);
      if (!st.is_null(4)) t.exit_code = static_cast<int>(st.int64(4));
      t.signal = static_cast<int>(st.int64(5));
      t.stop_reason = st.text(6);
      t.stop_message = st.text(7);
      t.image_digest = st.text(8);
      t.pid = static_cast<int>(st.int64(9));
      t.queued_reason = st.text(10);
      t.created_at = from_unix_millis(st.int64(11));
      t.pulling_at = column_time(st, 12);
      t.starting_at = column_time(st, 13);
      t.running_at = column_time(st, 14);
      t.stopping_at = column_time(st, 15);
      t.stopped_at = column_time(st, 16);
      t.usage.cpu_seconds = st.real(17);
      t.usage.memory_peak_bytes = static_cast<std::uint64_t>(st.int64(18));
      t.stop_requested = st.int64(19) != 0;
      t.timed_out = st.int64(20) != 0;
      t.resources = SVC_TRY_CTX(resources_from_json(st.text(21), t.spec), "task {}", t.id);
      out.push_back(std::move(t));
    }
    return out;
  });
}

}  // namespace svc::daemon
