#pragma once
// Image references as users type them ("alpine", "alpine:3", "ghcr.io/org/app@sha256:…",
// "127.0.0.1:5000/team/app:1"), parsed with the grammar of the distribution project's reference
// package (docs: distribution/reference/reference.go, the grammar comment) and normalised the way
// docker does it: a first component with no '.' or ':' that is not "localhost" is not a registry,
// so the default registry is prefixed, and on docker.io a one-component name lives in "library/".
#include <optional>
#include <string>
#include <string_view>

#include "common/digest.hpp"
#include "common/result.hpp"

namespace svc::images {

inline constexpr std::string_view kDockerHub = "docker.io";
inline constexpr std::size_t kMaxNameLength = 255;  // distribution: NameTotalLengthMax

struct Reference {
  std::string registry;    // "docker.io", "127.0.0.1:5000", "ghcr.io"
  std::string repository;  // "library/alpine", "team/app"
  std::string tag;  // "latest" when neither tag nor digest was given; may be empty with a digest
  std::optional<Digest> digest;

  // "docker.io/library/alpine" — the name without tag or digest.
  std::string name() const { return registry + "/" + repository; }
  // The normalised form: "docker.io/library/alpine:3", "r/x@sha256:…", "r/x:1@sha256:…".
  std::string str() const;
  // The tag or digest used to ask the registry for the manifest (digest wins).
  std::string manifest_ref() const { return digest ? digest->str() : tag; }
  friend bool operator==(const Reference&, const Reference&) = default;
};

// Parses and normalises. default_registry replaces docker.io for names that carry no registry.
// Errors say which part is wrong: registry, repository (path component), tag or digest.
Result<Reference> parse_reference(std::string_view text,
                                  std::string_view default_registry = kDockerHub);

// The short form people like to read: "alpine:3" for docker.io/library/alpine:3.
std::string familiar(const Reference& ref);

// A reference as a file name: every byte outside [a-z0-9._-] becomes %XX (so '/' ':' '@' are
// safe and the mapping is reversible). Used for the refs/ directory of the image store.
std::string escape_ref(std::string_view text);
Result<std::string> unescape_ref(std::string_view text);

}  // namespace svc::images
