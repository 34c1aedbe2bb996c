// libFuzzer: the image reference parser and the reference <-> file name escaping.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "images/reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ref = svc::images::parse_reference(text);
  if (ref) {
    // A normalised reference parses back to itself.
    auto again = svc::images::parse_reference(ref->str());
    if (!again || again->str() != ref->str()) std::abort();
    (void)svc::images::familiar(*ref);
  }
  auto escaped = svc::images::escape_ref(text);
  auto back = svc::images::unescape_ref(escaped);
  if (!back || *back != text) std::abort();
  if (escaped.find('/') != std::string::npos || escaped.starts_with(".")) std::abort();
  return 0;
}
