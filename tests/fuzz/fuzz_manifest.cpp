// libFuzzer: the index / manifest / image config parsers, the document classifier, the
// WWW-Authenticate parser and the auth file parser: arbitrary registry answers must never crash.
#include <cstdint>
#include <string_view>

#include "images/manifest.hpp"
#include "images/registry/auth.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace svc::images;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)classify_document("", text);
  (void)classify_document(media::kOciIndex, text);
  (void)classify_document("application/json", text);
  if (auto idx = parse_index(text)) {
    std::vector<std::optional<Platform>> ps;
    for (const auto& m : idx->manifests) ps.push_back(m.platform);
    (void)choose_platform(host_platform(), ps);
  }
  if (auto m = parse_manifest(text))
    for (const auto& l : m->layers) (void)layer_compression(l.media_type);
  if (auto c = parse_image_config(text)) (void)chain_ids(c->diff_ids);
  (void)registry::parse_challenge(text);
  (void)registry::CredentialStore::parse(text);
  (void)registry::base64_decode(text);
  return 0;
}
