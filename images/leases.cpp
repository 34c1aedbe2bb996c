#include "images/leases.hpp"

#include <algorithm>
#include <system_error>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"

namespace svc::images {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

Result<Lease> parse_lease(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail(Code::kDataLoss, "lease is not JSON");
  Lease l;
  l.holder = j.value("holder", std::string());
  for (const auto& s : j.value("images", std::vector<std::string>{}))
    if (auto d = Digest::parse(s)) l.images.push_back(*d);
  for (const auto& s : j.value("chain_ids", std::vector<std::string>{}))
    if (auto d = Digest::parse(s)) l.chain_ids.push_back(*d);
  return l;
}

std::string lease_json(const Lease& l) {
  std::vector<std::string> images, chains;
  for (const auto& d : l.images) images.push_back(d.str());
  for (const auto& d : l.chain_ids) chains.push_back(d.str());
  return json{{"holder", l.holder}, {"images", images}, {"chain_ids", chains}}.dump(2) + "\n";
}

void merge(std::vector<Digest>& into, const std::vector<Digest>& more) {
  for (const auto& d : more)
    if (std::find(into.begin(), into.end(), d) == into.end()) into.push_back(d);
}

}  // namespace

Result<> validate_holder(std::string_view h) {
  bool ok = !h.empty() && h.size() <= 128 && h.front() != '.';
  for (char c : h)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  if (!ok)
    return fail(Code::kInvalidArgument,
                "lease holder \"{}\" must be 1-128 characters of [A-Za-z0-9._-], not starting "
                "with '.'",
                h);
  return {};
}

LeaseStore::LeaseStore(const fs::path& root) : dir_(root / "images" / "leases") {}

Result<> LeaseStore::init() { return make_dirs(dir_, 0700); }

Result<> LeaseStore::add(const Lease& lease) {
  SVC_TRY(validate_holder(lease.holder));
  fs::path p = dir_ / (lease.holder + ".json");
  Lease merged{lease.holder, {}, {}};
  std::error_code ec;
  if (fs::exists(p, ec)) {
    auto text = SVC_TRY(read_file(p, 1 << 20));
    merged = SVC_TRY_CTX(parse_lease(text), "lease {}", p.string());
    merged.holder = lease.holder;
  }
  merge(merged.images, lease.images);
  merge(merged.chain_ids, lease.chain_ids);
  return write_file_atomic(p, lease_json(merged), 0600);
}

Result<> LeaseStore::release(const std::string& holder) {
  SVC_TRY(validate_holder(holder));
  fs::path p = dir_ / (holder + ".json");
  std::error_code ec;
  if (!fs::remove(p, ec)) {
    if (ec) return fail(Code::kInternal, "remove lease {}: {}", p.string(), ec.message());
    return fail(Code::kNotFound, "no lease held by \"{}\"", holder);
  }
  return {};
}

Result<std::vector<Lease>> LeaseStore::list() const {
  std::vector<Lease> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    std::string n = e.path().filename().string();
    if (n.starts_with(".") || !n.ends_with(".json")) continue;
    auto text = SVC_TRY(read_file(e.path(), 1 << 20));
    // A lease that cannot be read must not let GC delete what it protects: fail the GC.
    out.push_back(SVC_TRY_CTX(parse_lease(text), "lease {}", e.path().string()));
  }
  return out;
}

}  // namespace svc::images
