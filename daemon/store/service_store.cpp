#include "daemon/store/service_store.hpp"

#include <nlohmann/json.hpp>

#include "common/clock.hpp"

namespace svc::daemon {

using json = nlohmann::json;
namespace svs = svc::services;
using Millis = std::chrono::milliseconds;

std::string SqlServiceStore::spec_to_json(const svs::ServiceSpec& s) {
  json env = json::array();
  for (const auto& [k, v] : s.env) env.push_back(json::array({k, v}));
  json j = {
      {"name", s.name},
      {"image", s.image},
      {"port", s.port},
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
      {"network", static_cast<int>(s.network)},
      {"concurrency", s.scaling.concurrency},
      {"target_utilization_percent", s.scaling.target_utilization_percent},
      {"min_instances", s.scaling.min_instances},
      {"max_instances", s.scaling.max_instances},
      {"idle_timeout_ms", s.scaling.idle_timeout.count()},
      {"stable_window_ms", s.scaling.stable_window.count()},
      {"panic_window_ms", s.scaling.panic_window.count()},
      {"panic_threshold_percent", s.scaling.panic_threshold_percent},
      {"request_timeout_ms", s.request_timeout.count()},
      {"readiness_path", s.readiness_path},
      {"readiness_timeout_ms", s.readiness_timeout.count()},
      {"stop_grace_ms", s.stop_grace.count()},
      {"stop_signal", s.stop_signal},
      {"queue_limit", s.queue_limit},
      {"billing", s.billing},
  };
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<svs::ServiceSpec> SqlServiceStore::spec_from_json(std::string_view text) {
  try {
    json j = json::parse(text);
    svs::ServiceSpec s;
    s.name = j.at("name").get<std::string>();
    s.image = j.at("image").get<std::string>();
    s.port = j.value("port", std::uint16_t{8080});
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
    s.network = static_cast<scheduler::NetworkMode>(j.value("network", 1));
    s.scaling.concurrency = j.value("concurrency", 80);
    s.scaling.target_utilization_percent = j.value("target_utilization_percent", 70);
    s.scaling.min_instances = j.value("min_instances", 0);
    s.scaling.max_instances = j.value("max_instances", 0);
    s.scaling.idle_timeout = Millis(j.value("idle_timeout_ms", std::int64_t{60'000}));
    s.scaling.stable_window = Millis(j.value("stable_window_ms", std::int64_t{60'000}));
    s.scaling.panic_window = Millis(j.value("panic_window_ms", std::int64_t{6'000}));
    s.scaling.panic_threshold_percent = j.value("panic_threshold_percent", 200);
    s.request_timeout = Millis(j.value("request_timeout_ms", std::int64_t{300'000}));
    s.readiness_path = j.value("readiness_path", "");
    s.readiness_timeout = Millis(j.value("readiness_timeout_ms", std::int64_t{60'000}));
    s.stop_grace = Millis(j.value("stop_grace_ms", std::int64_t{10'000}));
    s.stop_signal = j.value("stop_signal", "");
    s.queue_limit = j.value("queue_limit", std::size_t{1000});
    s.billing = j.value("billing", "");
    return s;
  } catch (const std::exception& e) {
    return fail(Code::kDataLoss, "service spec in svcd.db is not valid: {}", e.what());
  }
}


Result<> SqlServiceStore::put_service(const svs::Service& s) {
  auto tx = SVC_TRY(store_.begin());
  auto st = SVC_TRY(
      tx.prepare("INSERT INTO services(name, spec, latest_revision, serving_revision, created_at, "
                 "updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO UPDATE SET "
                 "spec=?2, latest_revision=?3, serving_revision=?4, updated_at=?6"));
  st.bind(1, s.name).bind(2, spec_to_json(s.spec)).bind(3, s.latest_revision);
  st.bind(4, s.serving_revision).bind(5, unix_millis(s.created_at));
  st.bind(6, unix_millis(s.updated_at));
  SVC_TRY(st.run());
  return tx.commit();
}

Result<> SqlServiceStore::remove_service(const std::string& name) {
  auto tx = SVC_TRY(store_.begin());
  auto del_rev = SVC_TRY(tx.prepare("DELETE FROM revisions WHERE service = ?"));
  del_rev.bind(1, name);
  SVC_TRY(del_rev.run());
  auto del = SVC_TRY(tx.prepare("DELETE FROM services WHERE name = ?"));
  del.bind(1, name);
  SVC_TRY(del.run());
  return tx.commit();
}

Result<> SqlServiceStore::put_revision(const svs::Revision& r) {
  auto tx = SVC_TRY(store_.begin());
  // Revisions are immutable: a second write of the same name is a bug, not an update.
  auto st = SVC_TRY(
      tx.prepare("INSERT INTO revisions(name, service, number, spec, image_digest, created_at) "
                 "VALUES(?, ?, ?, ?, ?, ?)"));
  st.bind(1, r.name).bind(2, r.service).bind(3, r.number).bind(4, spec_to_json(r.spec));
  st.bind(5, r.image_digest).bind(6, unix_millis(r.created_at));
  auto ran = st.run();
  if (!ran && ran.error().code() == Code::kAlreadyExists)
    return fail(Code::kAlreadyExists, "revision {} already exists", r.name);
  SVC_TRY(std::move(ran));
  return tx.commit();
}

Result<> SqlServiceStore::put_instance(const svs::Instance& i) {
  auto tx = SVC_TRY(store_.begin());
  auto st = SVC_TRY(tx.prepare(
      "INSERT INTO instances(id, service, revision, state, pid, created_at, ready_at, "
      "draining_at, stop_reason, stop_message) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
      "ON CONFLICT(id) DO UPDATE SET state=?4, pid=?5, ready_at=?7, draining_at=?8, "
      "stop_reason=?9, stop_message=?10"));
  st.bind(1, i.id).bind(2, i.service).bind(3, i.revision).bind(4, static_cast<int>(i.state));
  st.bind(5, i.pid).bind(6, unix_millis(i.created_at));
  bind_time(st, 7, i.ready_at);
  bind_time(st, 8, i.draining_at);
  st.bind(9, i.stop_reason).bind(10, i.stop_message);
  SVC_TRY(st.run());
  if (listener_) SVC_TRY(listener_->on_instance_written(tx, i));
  return tx.commit();
}

Result<> SqlServiceStore::delete_instance_in(Store::Tx& tx, const std::string& id) {
  auto st = SVC_TRY(tx.prepare("DELETE FROM instances WHERE id = ?"));
  st.bind(1, id);
  SVC_TRY(st.run());
  return {};
}

Result<> SqlServiceStore::remove_instance(const std::string& id) {
  auto tx = SVC_TRY(store_.begin());
  SVC_TRY(delete_instance_in(tx, id));
  return tx.commit();
}

Result<> SqlServiceStore::end_instance(const svs::Instance& i) {
  auto tx = SVC_TRY(store_.begin());
  SVC_TRY(delete_instance_in(tx, i.id));
  if (listener_) SVC_TRY(listener_->on_instance_ended(tx, i));
  return tx.commit();
}

Result<SqlServiceStore::Contents> SqlServiceStore::load_all() {
  return store_.read([&](Store& s) -> Result<Contents> {
    Contents c;
    auto sv = SVC_TRY(s.prepare(
        "SELECT name, spec, latest_revision, serving_revision, created_at, updated_at FROM "
        "services ORDER BY name"));
    while (SVC_TRY(sv.step())) {
      svs::Service svc;
      svc.name = sv.text(0);
      svc.spec = SVC_TRY_CTX(spec_from_json(sv.text(1)), "service {}", svc.name);
      svc.latest_revision = static_cast<int>(sv.int64(2));
      svc.serving_revision = sv.text(3);
      svc.created_at = from_unix_millis(sv.int64(4));
      svc.updated_at = from_unix_millis(sv.int64(5));
      c.services.push_back(std::move(svc));
    }
    auto rv = SVC_TRY(s.prepare(
        "SELECT name, service, number, spec, image_digest, created_at FROM revisions ORDER BY "
        "service, number"));
    while (SVC_TRY(rv.step())) {
      svs::Revision r;
      r.name = rv.text(0);
      r.service = rv.text(1);
      r.number = static_cast<int>(rv.int64(2));
      r.spec = SVC_TRY_CTX(spec_from_json(rv.text(3)), "revision {}", r.name);
      r.image_digest = rv.text(4);
      r.created_at = from_unix_millis(rv.int64(5));
      c.revisions.push_back(std::move(r));
    }
    auto iv = SVC_TRY(
        s.prepare("SELECT id, service, revision, state, pid, created_at, ready_at, draining_at, "
                  "stop_reason, stop_message FROM instances ORDER BY created_at, id"));
    while (SVC_TRY(iv.step())) {
      svs::Instance i;
      i.id = iv.text(0);
      i.service = iv.text(1);
      i.revision = iv.text(2);
      int state = static_cast<int>(iv.int64(3));
      if (state < 1 || state > 5)
        return fail(Code::kDataLoss, "instance {} has unknown state {}", i.id, state);
      i.state = static_cast<svs::InstanceState>(state);
      i.pid = static_cast<int>(iv.int64(4));
      i.created_at = from_unix_millis(iv.int64(5));
      i.ready_at = column_time(iv, 6);
      i.draining_at = column_time(iv, 7);
      i.stop_reason = iv.text(8);
      i.stop_message = iv.text(9);
      c.instances.push_back(std::move(i));
    }
    return c;
  });
}

}  // namespace svc::daemon
