#include "daemon/store/audit_store.hpp"

#include <spdlog/spdlog.h>

namespace svc::daemon {

namespace {

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

Result<> SqlAuditStore::append(const api::AuditRecord& r) {
  {
    auto tx = SVC_TRY(store_.begin());
    auto st = SVC_TRY(tx.prepare(
        "INSERT INTO audit (at, principal, transport, peer, method, target, code, message) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
    st.bind(1, to_ms(r.at))
        .bind(2, r.principal)
        .bind(3, r.transport)
        .bind(4, r.peer)
        .bind(5, r.method)
        .bind(6, r.target)
        .bind(7, r.code)
        .bind(8, r.message);
    SVC_TRY(st.run());
    SVC_TRY(tx.commit());
  }
  // Pruning rides on appends (at most hourly): a node that changes nothing keeps its log.
  std::int64_t now = to_ms(clock_.now()), last = last_prune_ms_.load();
  if (now - last >= 3'600'000 && last_prune_ms_.compare_exchange_strong(last, now)) {
    if (auto n = prune(); !n) spdlog::warn("audit: prune: {}", n.error().message());
  }
  return {};
}

Result<std::vector<api::AuditRecord>> SqlAuditStore::list(
    std::optional<std::chrono::system_clock::time_point> since, int limit) {
  return store_.read([&](Store& s) -> Result<std::vector<api::AuditRecord>> {
    auto st = SVC_TRY(s.prepare(
        "SELECT id, at, principal, transport, peer, method, target, code, message FROM audit "
        "WHERE at >= ? ORDER BY id DESC LIMIT ?"));
    st.bind(1, since ? to_ms(*since) : std::int64_t{0}).bind(2, limit);
    std::vector<api::AuditRecord> out;
    while (SVC_TRY(st.step())) {
      api::AuditRecord r;
      r.id = st.int64(0);
      r.at = std::chrono::system_clock::time_point(std::chrono::milliseconds(st.int64(1)));
      r.principal = st.text(2);
      r.transport = st.text(3);
      r.peer = st.text(4);
      r.method = st.text(5);
      r.target = st.text(6);
      r.code = st.text(7);
      r.message = st.text(8);
      out.push_back(std::move(r));
    }
    return out;
  });
}

Result<int> SqlAuditStore::prune() {
  last_prune_ms_ = to_ms(clock_.now());
  auto tx = SVC_TRY(store_.begin());
  auto st = SVC_TRY(tx.prepare("DELETE FROM audit WHERE at < ?"));
  st.bind(1, to_ms(clock_.now() - retention_));
  SVC_TRY(st.run());
  int n = tx.changes();
  SVC_TRY(tx.commit());
  if (n > 0) spdlog::info("audit: pruned {} record(s) older than the retention", n);
  return n;
}

}  // namespace svc::daemon
