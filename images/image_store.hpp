#pragma once
// Image records and names, kept as files under <root>/images/:
//   refs/<escaped reference>     the manifest digest a name points at ("sha256:…\n")
//   records/<manifest hex>.json  one Image (image.hpp) per manifest digest
//   leases/<holder>.json         what a live task holds (leases.hpp)
// Why files and not svcd.db: only daemon/store may open SQLite (DESIGN.md), and images/ must
// not depend on daemon/. These records are small, written rarely, each one atomically
// (write_file_atomic), and derived from content that is already on disk, so a per-record file is
// as safe as a table and keeps images/ usable (and testable) on its own.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.hpp"
#include "common/result.hpp"
#include "images/image.hpp"

namespace svc::images {

class ImageStore {
 public:
  explicit ImageStore(const std::filesystem::path& root);  // the images root; uses root/images
  Result<> init();

  // Writes the record (its references field is not stored: refs/ is the truth).
  Result<> put(const Image& image);
  Result<std::optional<Image>> get(const Digest& manifest_digest) const;
  Result<> remove(const Digest& manifest_digest);

  // Points a normalised reference at a manifest digest.
  Result<> set_ref(const std::string& reference, const Digest& manifest_digest);
  Result<> remove_ref(const std::string& reference);
  std::optional<Digest> resolve(const std::string& reference) const;
  // Every reference and its digest.
  std::vector<std::pair<std::string, Digest>> refs() const;

  // Every record, with references filled in from refs/.
  Result<std::vector<Image>> list() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace svc::images
