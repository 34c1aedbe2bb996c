#include "images/registry/registry_client.hpp"

#include <cctype>
#include <thread>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace svc::images::registry {

namespace {

std::string url_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~')
      out.push_back(c);
    else
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  }
  return out;
}

bool retryable_status(long s) { return s == 429 || s == 408 || (s >= 500 && s <= 599); }

bool retryable_error(const Error& e) {
  return e.code() == Code::kUnavailable || e.code() == Code::kAborted ||
         e.code() == Code::kDeadlineExceeded;
}

// The registry's own error message ({"errors":[{"code","message"}]}, distribution spec
// "Error Codes"), or the status line.
std::string registry_error(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("errors") && j["errors"].is_array() &&
      !j["errors"].empty() && j["errors"][0].is_object()) {
    const auto& e = j["errors"][0];
    return fmt::format("HTTP {} {}: {}", r.status, e.value("code", ""), e.value("message", ""));
  }
  return fmt::format("HTTP {}", r.status);
}

}  // namespace

Result<std::unique_ptr<RegistryClient>> RegistryClient::create(RegistryOptions options) {
  CredentialStore creds;
  if (!options.auth_file.empty()) creds = SVC_TRY(CredentialStore::load(options.auth_file));
  return std::unique_ptr<RegistryClient>(new RegistryClient(std::move(options), std::move(creds)));
}

RegistryClient::RegistryClient(RegistryOptions options, CredentialStore creds)
    : options_(std::move(options)),
      creds_(std::move(creds)),
      http_(HttpClient::Options{options_.connect_timeout, options_.stall_timeout,
                                options_.user_agent}) {}

std::optional<std::string> RegistryClient::auth_header(const Endpoint& ep, const Reference& ref) {
  std::lock_guard lock(mu_);
  if (auto it = auth_.find(ep.base_url + " " + ref.repository); it != auth_.end())
    return it->second;
  return std::nullopt;
}

Result<> RegistryClient::authorize(const Endpoint& ep, const Reference& ref,
                                   const HttpResponse& resp, const Cancelled& cancelled) {
  std::string header = resp.header("www-authenticate");
  if (header.empty())
    return fail(Code::kUnauthenticated, "{} answered 401 without a WWW-Authenticate challenge",
                ep.base_url);
  Challenge ch = SVC_TRY(parse_challenge(header));
  auto creds = creds_.find(ref.registry);
  std::string value;
  if (ch.scheme == "basic") {
    if (!creds)
      return fail(Code::kUnauthenticated,
                  "{} asks for a user name and password: add them for \"{}\" to the auth file "
                  "([registries] auth_file)",
                  ep.base_url, ref.registry);
    value = "Basic " + base64_encode(creds->username + ":" + creds->password);
  } else if (ch.scheme == "bearer") {
    std::string realm = ch.params["realm"];
    if (realm.empty())
      return fail(Code::kUnauthenticated, "{}: Bearer challenge without a realm", ep.base_url);
    std::string scope = ch.params.count("scope")
                            ? ch.params["scope"]
                            : fmt::format("repository:{}:pull", ref.repository);
    std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    if (!ch.params["service"].empty()) url += "service=" + url_encode(ch.params["service"]) + "&";
    url += "scope=" + url_encode(scope);
    HttpRequest treq;
    treq.url = url;
    treq.cancelled = cancelled;
    treq.max_body = 1 << 20;
    if (creds)
      treq.headers.push_back("Authorization: Basic " +
                             base64_encode(creds->username + ":" + creds->password));
    auto tresp = SVC_TRY_CTX(http_.perform(treq), "get a token for {}", ref.name());
    if (tresp.status == 401 || tresp.status == 403)
      return fail(Code::kUnauthenticated, "the token service {} refused {} ({}){}", realm,
                  creds ? "the credentials from the auth file" : "an anonymous pull",
                  registry_error(tresp),
                  creds ? ""
                        : fmt::format(": add credentials for \"{}\" to [registries] auth_file",
                                      ref.registry));
    if (tresp.status != 200)
      return fail(Code::kUnavailable, "the token service {} answered {}", realm,
                  registry_error(tresp));
    auto j = nlohmann::json::parse(tresp.body, nullptr, false);
    std::string token;
    if (!j.is_discarded() && j.is_object()) {
      token = j.value("token", std::string());
      if (token.empty()) token = j.value("access_token", std::string());
    }
    if (token.empty())
      return fail(Code::kUnauthenticated, "the token service {} sent no token", realm);
    value = "Bearer " + token;
  } else {
    return fail(Code::kUnauthenticated, "{} asks for auth scheme \"{}\", which svc does not speak",
                ep.base_url, ch.scheme);
  }
  std::lock_guard lock(mu_);
  auth_[ep.base_url + " " + ref.repository] = value;
  return {};
}

Result<HttpResponse> RegistryClient::send(const Endpoint& ep, const Reference& ref, HttpRequest req,
                                          const BlobSink* sink, std::int64_t* delivered) {
  // Ping /v2/ once per endpoint: it says whether the registry is there and which auth it wants.
  bool need_ping = false;
  {
    std::lock_guard lock(mu_);
    need_ping = !pinged_.count(ep.base_url);
  }
  if (need_ping) {
    HttpRequest ping;
    ping.url = ep.base_url + "/v2/";
    ping.cancelled = req.cancelled;
    auto r = http_.perform(ping);
    if (r && (r->status == 200 || r->status == 401)) {
      std::lock_guard lock(mu_);
      pinged_[ep.base_url] = true;
    } else if (r && r->status == 404) {
      return fail(Code::kUnavailable, "{} is not a registry: GET /v2/ answered 404", ep.base_url);
    }
  }
  auto base_headers = req.headers;
  bool reauthorized = false;
  std::chrono::milliseconds backoff = options_.retry_backoff;
  Error last(Code::kUnavailable, "no attempt made");
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (req.cancelled && req.cancelled()) return fail(Code::kCancelled, "pull cancelled");
    req.headers = base_headers;
    if (auto h = auth_header(ep, ref)) req.headers.push_back("Authorization: " + *h);
    if (sink && delivered) {
      // Resume where the last attempt stopped. A server that ignores Range answers 200 with the
      // whole blob: drop the bytes the sink already has.
      req.range_from = *delivered;
      std::int64_t resume_at = *delivered;
      std::int64_t skip = 0;
      bool first = true;
      req.on_body = [&, resume_at, skip, first](long status, const char* data,
                                                std::size_t len) mutable -> Result<> {
        if (first) {
          first = false;
          skip = (status == 200 && resume_at > 0) ? resume_at : 0;
        }
        if (skip > 0) {
          auto drop = static_cast<std::size_t>(
              std::min<std::int64_t>(skip, static_cast<std::int64_t>(len)));
          skip -= static_cast<std::int64_t>(drop);
          data += drop;
          len -= drop;
          if (len == 0) return {};
        }
        SVC_TRY((*sink)(data, len));
        *delivered += static_cast<std::int64_t>(len);
        return {};
      };
    }
    auto r = http_.perform(req);
    if (!r) {
      last = r.error();
      if (last.code() == Code::kCancelled || !retryable_error(last)) return tl::unexpected(last);
      if (sink && delivered && *delivered > 0) ++resumes_;
      spdlog::info("{} (attempt {}/{}), retrying in {} ms", last.message(), attempt,
                   options_.max_attempts, backoff.count());
    } else if (r->status == 401 && !reauthorized) {
      reauthorized = true;
      SVC_TRY(authorize(ep, ref, *r, req.cancelled));
      --attempt;  // the auth round trip is not a failed attempt
      continue;
    } else if (retryable_status(r->status)) {
      last = Error(Code::kUnavailable, fmt::format("{}: {}", req.url, registry_error(*r)));
      spdlog::info("{} (attempt {}/{}), retrying in {} ms", last.message(), attempt,
                   options_.max_attempts, backoff.count());
    } else {
      return r;
    }
    if (attempt < options_.max_attempts) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
  return tl::unexpected(
      last.context(fmt::format("gave up after {} attempts", options_.max_attempts)));
}

template <class Fn>
auto RegistryClient::over_endpoints(const Reference& ref, Fn&& fn)
    -> decltype(fn(std::declval<Endpoint>())) {
  auto eps = endpoints_for(options_, ref.registry);
  std::optional<Error> first_error;
  for (const auto& ep : eps) {
    auto r = fn(ep);
    if (r) return r;
    if (r.error().code() == Code::kCancelled) return r;
    if (ep.mirror)
      spdlog::warn("mirror {} failed for {}: {}; trying the next endpoint", ep.base_url, ref.str(),
                   r.error().message());
    if (!first_error || ep.mirror) first_error = r.error();
    if (!ep.mirror) return r;
  }
  return tl::unexpected(*first_error);
}

Result<FetchedManifest> RegistryClient::get_manifest(const Reference& ref,
                                                     std::string_view tag_or_digest,
                                                     const Cancelled& cancelled) {
  return over_endpoints(ref, [&](const Endpoint& ep) -> Result<FetchedManifest> {
    HttpRequest req;
    req.url = fmt::format("{}/v2/{}/manifests/{}", ep.base_url, ref.repository, tag_or_digest);
    req.headers.push_back("Accept: " + media::accept_header());
    req.max_body = 4 << 20;  // distribution spec: registries may refuse manifests over 4 MiB
    req.cancelled = cancelled;
    auto resp = SVC_TRY(send(ep, ref, req, nullptr, nullptr));
    if (resp.status == 404)
      return fail(Code::kNotFound, "{}: manifest {} not found in {} ({})", ref.str(), tag_or_digest,
                  ep.base_url, registry_error(resp));
    if (resp.status == 401 || resp.status == 403)
      return fail(Code::kPermissionDenied, "{}: {} refused access to {} ({})", ref.str(),
                  ep.base_url, ref.repository, registry_error(resp));
    if (resp.status != 200)
      return fail(Code::kUnavailable, "{}: fetch manifest from {}: {}", ref.str(), ep.base_url,
                  registry_error(resp));
    FetchedManifest m;
    m.body = std::move(resp.body);
    m.content_type = resp.header("content-type");
    m.digest = Digest::sha256_of(m.body);
    if (tag_or_digest.starts_with("sha256:") && m.digest.str() != tag_or_digest)
      return fail(Code::kDataLoss,
                  "{}: the manifest {} sent hashes to {}, not the digest asked for: refused",
                  ref.str(), ep.base_url, m.digest.str());
    return m;
  });
}

Result<std::string> RegistryClient::get_blob(const Reference& ref, const Descriptor& desc,
                                             const Cancelled& cancelled) {
  std::string out;
  if (desc.size > (64 << 20))
    return fail(Code::kResourceExhausted, "blob {} is {} bytes, too large to hold in memory",
                desc.digest.str(), desc.size);
  SVC_TRY(fetch_blob(
      ref, desc,
      [&](const char* d, std::size_t n) -> Result<> {
        if (out.size() + n > static_cast<std::size_t>(desc.size))
          return fail(Code::kDataLoss, "blob {} is longer than its {} bytes", desc.digest.str(),
                      desc.size);
        out.append(d, n);
        return {};
      },
      cancelled));
  Digest got = Digest::sha256_of(out);
  if (got != desc.digest || static_cast<std::int64_t>(out.size()) != desc.size)
    return fail(Code::kDataLoss, "blob {}: received {} bytes hashing to {}: refused",
                desc.digest.str(), out.size(), got.str());
  return out;
}

Result<> RegistryClient::fetch_blob(const Reference& ref, const Descriptor& desc,
                                    const BlobSink& sink, const Cancelled& cancelled) {
  std::int64_t delivered = 0;
  return over_endpoints(ref, [&](const Endpoint& ep) -> Result<> {
    // A mirror that failed mid-blob cannot be resumed elsewhere from the same offset safely
    // (another server, maybe other bytes): only start on an endpoint from byte 0.
    if (delivered > 0)
      return fail(Code::kAborted, "blob {} was cut on a mirror after {} bytes", desc.digest.str(),
                  delivered);
    HttpRequest req;
    req.url = fmt::format("{}/v2/{}/blobs/{}", ep.base_url, ref.repository, desc.digest.str());
    req.cancelled = cancelled;
    auto resp = SVC_TRY(send(ep, ref, req, &sink, &delivered));
    if (resp.status == 200 || resp.status == 206) {
      if (desc.size >= 0 && delivered != desc.size)
        return fail(Code::kDataLoss, "blob {}: the registry sent {} bytes, the manifest says {}",
                    desc.digest.str(), delivered, desc.size);
      return {};
    }
    if (resp.status == 404)
      return fail(Code::kNotFound, "{}: blob {} not found in {} ({})", ref.str(), desc.digest.str(),
                  ep.base_url, registry_error(resp));
    if (resp.status == 416)
      return fail(Code::kDataLoss, "{}: blob {}: the registry refused the resume range ({} bytes)",
                  ref.str(), desc.digest.str(), delivered);
    return fail(Code::kUnavailable, "{}: fetch blob {} from {}: {}", ref.str(), desc.digest.str(),
                ep.base_url, registry_error(resp));
  });
}

}  // namespace svc::images::registry
