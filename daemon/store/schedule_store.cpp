#include "daemon/store/schedule_store.hpp"

#include "common/clock.hpp"
#include "daemon/store/task_store.hpp"

namespace svc::daemon {

namespace sch = svc::scheduler;

Result<> SqlScheduleStore::insert(const sch::Schedule& s) {
  auto tx = SVC_TRY(store_.begin());
  auto st = SVC_TRY(
      tx.prepare("INSERT INTO schedules(name, cron, timezone, overlap, starting_deadline_ms, "
                 "task_spec, paused, created_at, handled_through) VALUES(?,?,?,?,?,?,?,?,?)"));
  st.bind(1, s.spec.name).bind(2, s.spec.cron).bind(3, s.spec.timezone);
  st.bind(4, static_cast<int>(s.spec.overlap));
  st.bind(5, static_cast<std::int64_t>(s.spec.starting_deadline.count()));
  st.bind(6, SqlTaskStore::spec_to_json(s.spec.task)).bind(7, s.paused ? 1 : 0);
  st.bind(8, unix_millis(s.created_at)).bind(9, unix_millis(s.handled_through));
  auto ran = st.run();
  if (!ran) {
    if (ran.error().code() == Code::kAlreadyExists)
      return fail(Code::kAlreadyExists, "a schedule named \"{}\" already exists", s.spec.name);
    return tl::unexpected(ran.error());
  }
  return tx.commit();
}

Result<> SqlScheduleStore::update(const sch::Schedule& s) {
  auto tx = SVC_TRY(store_.begin());
  auto st =
      SVC_TRY(tx.prepare("UPDATE schedules SET paused = ?, handled_through = ? WHERE name = ?"));
  st.bind(1, s.paused ? 1 : 0).bind(2, unix_millis(s.handled_through)).bind(3, s.spec.name);
  SVC_TRY(st.run());
  if (tx.changes() == 0) return fail(Code::kNotFound, "no schedule {} in the store", s.spec.name);
  return tx.commit();
}

Result<> SqlScheduleStore::remove(const std::string& name) {
  auto tx = SVC_TRY(store_.begin());
  auto runs = SVC_TRY(tx.prepare("DELETE FROM schedule_runs WHERE schedule = ?"));
  runs.bind(1, name);
  SVC_TRY(runs.run());
  auto st = SVC_TRY(tx.prepare("DELETE FROM schedules WHERE name = ?"));
  st.bind(1, name);
  SVC_TRY(st.run());
  return tx.commit();
}

Result<> SqlScheduleStore::record_run(const std::string& name, sch::TimePoint handled_through,
                                      const sch::RunRecord& r, std::size_t keep) {
  auto tx = SVC_TRY(store_.begin());
  auto up = SVC_TRY(tx.cached("UPDATE schedules SET handled_through = ? WHERE name = ?"));
  up->bind(1, unix_millis(handled_through)).bind(2, name);
  SVC_TRY(up->run());
  if (tx.changes() == 0) return fail(Code::kNotFound, "no schedule {} in the store", name);
  auto st = SVC_TRY(tx.cached(
      "INSERT OR REPLACE INTO schedule_runs(schedule, seq, scheduled_at, handled_at, manual, "
      "outcome, task_id, task_name, message, task_state, exit_code, stop_reason) "
      "VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"));
  st->bind(1, name).bind(2, r.seq).bind(3, unix_millis(r.scheduled_at));
  st->bind(4, unix_millis(r.handled_at)).bind(5, r.manual ? 1 : 0);
  st->bind(6, static_cast<int>(r.outcome)).bind(7, r.task_id).bind(8, r.task_name);
  st->bind(9, r.message);
  if (r.task_state)
    st->bind(10, static_cast<int>(*r.task_state));
  else
    st->bind_null(10);
  if (r.exit_code)
    st->bind(11, *r.exit_code);
  else
    st->bind_null(11);
  st->bind(12, r.stop_reason);
  SVC_TRY(st->run());
  auto trim =
      SVC_TRY(tx.cached("DELETE FROM schedule_runs WHERE schedule = ?1 AND seq <= "
                        "(SELECT seq FROM schedule_runs WHERE schedule = ?1 ORDER BY seq DESC "
                        "LIMIT 1 OFFSET ?2)"));
  trim->bind(1, name).bind(2, static_cast<std::int64_t>(keep));
  SVC_TRY(trim->run());
  return tx.commit();
}

Result<std::vector<sch::Schedule>> SqlScheduleStore::load_all() {
  return store_.read([&](Store& db) -> Result<std::vector<sch::Schedule>> {
    std::vector<sch::Schedule> out;
    auto st =
        SVC_TRY(db.prepare("SELECT name, cron, timezone, overlap, starting_deadline_ms, task_spec, "
                           "paused, created_at, handled_through FROM schedules ORDER BY name"));
    while (SVC_TRY(st.step())) {
      sch::Schedule s;
      s.spec.name = st.text(0);
      s.spec.cron = st.text(1);
      s.spec.timezone = st.text(2);
      int overlap = static_cast<int>(st.int64(3));
      if (overlap < 1 || overlap > 3)
        return fail(Code::kDataLoss, "schedule {} has unknown overlap {}", s.spec.name, overlap);
      s.spec.overlap = static_cast<sch::Overlap>(overlap);
      s.spec.starting_deadline = sch::Millis(st.int64(4));
      s.spec.task =
          SVC_TRY_CTX(SqlTaskStore::spec_from_json(st.text(5)), "schedule {}", s.spec.name);
      s.paused = st.int64(6) != 0;
      s.created_at = from_unix_millis(st.int64(7));
      s.handled_through = from_unix_millis(st.int64(8));
      out.push_back(std::move(s));
    }
    auto runs = SVC_TRY(
        db.prepare("SELECT schedule, seq, scheduled_at, handled_at, manual, outcome, task_id, "
                   "task_name, message, task_state, exit_code, stop_reason FROM schedule_runs "
                   "ORDER BY schedule, seq"));
    std::size_t i = 0;
    while (SVC_TRY(runs.step())) {
      std::string schedule = runs.text(0);
      while (i < out.size() && out[i].spec.name < schedule) ++i;
      if (i == out.size() || out[i].spec.name != schedule) continue;
      sch::RunRecord r;
      r.seq = runs.int64(1);
      r.scheduled_at = from_unix_millis(runs.int64(2));
      r.handled_at = from_unix_millis(runs.int64(3));
      r.manual = runs.int64(4) != 0;
      int outcome = static_cast<int>(runs.int64(5));
      if (outcome < 1 || outcome > 5)
        return fail(Code::kDataLoss, "schedule {} run {} has unknown outcome {}", schedule, r.seq,
                    outcome);
      r.outcome = static_cast<sch::RunOutcome>(outcome);
      r.task_id = runs.text(6);
      r.task_name = runs.text(7);
      r.message = runs.text(8);
      if (!runs.is_null(9)) {
        int state = static_cast<int>(runs.int64(9));
        if (state >= 1 && state <= 6) r.task_state = static_cast<sch::TaskState>(state);
      }
      if (!runs.is_null(10)) r.exit_code = static_cast<int>(runs.int64(10));
      r.stop_reason = runs.text(11);
      out[i].runs.push_back(std::move(r));
    }
    return out;
  });
}

}  // namespace svc::daemon
