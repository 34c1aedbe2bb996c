#include "images/image_store.hpp"

#include <algorithm>
#include <map>
#include <system_error>

#include "common/fs.hpp"
#include "images/reference.hpp"

namespace svc::images {

namespace fs = std::filesystem;

ImageStore::ImageStore(const fs::path& root) : dir_(root / "images") {}

Result<> ImageStore::init() {
  SVC_TRY_CTX(make_dirs(dir_ / "refs", 0700), "image store");
  SVC_TRY_CTX(make_dirs(dir_ / "records", 0700), "image store");
  return {};
}

Result<> ImageStore::put(const Image& image) {
  Image copy = image;
  copy.references.clear();
  return write_file_atomic(dir_ / "records" / (image.digest.hex() + ".json"), image_to_json(copy),
                           0600);
}

Result<std::optional<Image>> ImageStore::get(const Digest& d) const {
  fs::path p = dir_ / "records" / (d.hex() + ".json");
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::optional<Image>();
  auto text = SVC_TRY(read_file(p, 16 << 20));
  Image im = SVC_TRY_CTX(image_from_json(text), "image record {}", p.string());
  for (const auto& [ref, digest] : refs())
    if (digest == d) im.references.push_back(ref);
  return std::optional<Image>(std::move(im));
}

Result<> ImageStore::remove(const Digest& d) {
  fs::path p = dir_ / "records" / (d.hex() + ".json");
  std::error_code ec;
  fs::remove(p, ec);
  if (ec) return fail(Code::kInternal, "remove image record {}: {}", p.string(), ec.message());
  return {};
}

Result<> ImageStore::set_ref(const std::string& reference, const Digest& d) {
  return write_file_atomic(dir_ / "refs" / escape_ref(reference), d.str() + "\n", 0600);
}

Result<> ImageStore::remove_ref(const std::string& reference) {
  std::error_code ec;
  fs::remove(dir_ / "refs" / escape_ref(reference), ec);
  if (ec) return fail(Code::kInternal, "remove reference {}: {}", reference, ec.message());
  return {};
}

std::optional<Digest> ImageStore::resolve(const std::string& reference) const {
  auto text = read_file(dir_ / "refs" / escape_ref(reference), 4096);
  if (!text) return std::nullopt;
  std::string t = *text;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  auto d = Digest::parse(t);
  if (!d) return std::nullopt;
  return *d;
}

std::vector<std::pair<std::string, Digest>> ImageStore::refs() const {
  std::vector<std::pair<std::string, Digest>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "refs", ec)) {
    std::string n = e.path().filename().string();
    if (n.starts_with(".")) continue;  // a write_file_atomic temp file
    auto ref = unescape_ref(n);
    if (!ref) continue;
    if (auto d = resolve(*ref)) out.emplace_back(*ref, *d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<Image>> ImageStore::list() const {
  std::map<Digest, std::vector<std::string>> names;
  for (auto& [ref, d] : refs()) names[d].push_back(ref);
  std::vector<Image> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_ / "records", ec)) {
    std::string n = e.path().filename().string();
    if (n.starts_with(".") || !n.ends_with(".json")) continue;
    auto text = read_file(e.path(), 16 << 20);
    if (!text) continue;
    auto im = image_from_json(*text);
    if (!im) continue;
    im->references = names[im->digest];
    out.push_back(std::move(*im));
  }
  std::sort(out.begin(), out.end(),
            [](const Image& a, const Image& b) { return a.pulled_at > b.pulled_at; });
  return out;
}

}  // namespace svc::images
