#pragma once
// The OCI distribution protocol as registries really speak it (distribution spec v1.0 "Pull"):
// GET /v2/ to learn the auth scheme, the Bearer token flow from WWW-Authenticate (anonymous or
// with credentials from the auth file), Basic auth, manifests with the Accept list of every form
// we read, blobs with redirects, retries with back-off on resets, 5xx and 429, and a Range
// resume of a blob cut mid-way. Mirrors are tried before the registry itself.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/digest.hpp"
#include "common/result.hpp"
#include "images/manifest.hpp"
#include "images/reference.hpp"
#include "images/registry/auth.hpp"
#include "images/registry/http_client.hpp"
#include "images/registry/options.hpp"

namespace svc::images::registry {

struct FetchedManifest {
  std::string body;
  std::string content_type;
  Digest digest;  // sha256 of body; checked against the reference's digest when it has one
};

using Cancelled = std::function<bool()>;
// Receives a blob's bytes in order, exactly once each, across retries and resumes.
using BlobSink = std::function<Result<>(const char*, std::size_t)>;

class RegistryClient {
 public:
  // Reads the auth file (if any) now, so a broken one fails at start-up.
  static Result<std::unique_ptr<RegistryClient>> create(RegistryOptions options);

  // GET /v2/<name>/manifests/<tag or digest>.
  Result<FetchedManifest> get_manifest(const Reference& ref, std::string_view tag_or_digest,
                                       const Cancelled& cancelled);
  // A small blob (a config) into memory, verified against its descriptor.
  Result<std::string> get_blob(const Reference& ref, const Descriptor& desc,
                               const Cancelled& cancelled);
  // A blob of any size streamed into sink. Verification is the sink's job (it hashes as it
  // stores); this only guarantees each byte arrives once and in order.
  Result<> fetch_blob(const Reference& ref, const Descriptor& desc, const BlobSink& sink,
                      const Cancelled& cancelled);

  const RegistryOptions& options() const { return options_; }
  // Statistics for tests and logs.
  int resumes() const { return resumes_; }

 private:
  explicit RegistryClient(RegistryOptions options, CredentialStore creds);

  // One request with auth and retries against one endpoint. For blob requests, range_from and
  // the sink advance across attempts.
  Result<HttpResponse> send(const Endpoint& ep, const Reference& ref, HttpRequest req,
                            const BlobSink* sink, std::int64_t* delivered);
  Result<> authorize(const Endpoint& ep, const Reference& ref, const HttpResponse& challenge_resp,
                     const Cancelled& cancelled);
  std::optional<std::string> auth_header(const Endpoint& ep, const Reference& ref);
  template <class Fn>
  auto over_endpoints(const Reference& ref, Fn&& fn) -> decltype(fn(std::declval<Endpoint>()));

  RegistryOptions options_;
  CredentialStore creds_;
  HttpClient http_;
  std::mutex mu_;
  std::map<std::string, std::string> auth_;  // "<base_url> <repository>" -> Authorization value
  std::map<std::string, bool> pinged_;       // base_url -> /v2/ answered
  std::atomic<int> resumes_{0};
};

}  // namespace svc::images::registry
