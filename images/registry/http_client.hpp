#pragma once
// A small HTTP client on libcurl for the registry protocol. One CURLSH share holds the
// connection cache, DNS cache and TLS sessions of every transfer, so the manifest, the config
// and the layers of a pull (and of the next pull) reuse connections; HTTP/2 is used where the
// server offers it over TLS (CURL_HTTP_VERSION_2TLS). One request = one perform(), no retries
// here: RegistryClient decides what to retry. Thread-safe: each perform() uses its own easy
// handle taken from a pool; the share is locked with the mutexes below.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace svc::images::registry {

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::int64_t range_from = 0;       // > 0: ask for bytes range_from- (a resume)
  // For 2xx responses, body bytes go here with the status (200, 206) when set (else they are
  // collected into body, up to max_body). An error stops the transfer and perform() returns it.
  std::function<Result<>(long status, const char*, std::size_t)> on_body;
  std::size_t max_body = 16 << 20;
  std::function<bool()> cancelled;
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercase names, of the final response
  std::string body;                            // collected body (error bodies always)
  std::string effective_url;
  long http_version = 0;  // CURL_HTTP_VERSION_* of the final response
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class HttpClient {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds stall_timeout{30'000};
    std::string user_agent = "svcd";
  };
  explicit HttpClient(Options options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Transport failures are errors: kUnavailable (connect, reset, cut), kDeadlineExceeded (stall),
  // kCancelled. Any HTTP status is a response. A stream cut mid-body keeps what on_body already
  // got; the error says so (Code::kAborted = "partial, resumable").
  Result<HttpResponse> perform(const HttpRequest& request);

  const Options& options() const { return options_; }

 private:
  struct Share;
  void* take_handle();
  void give_back(void* handle);
  Options options_;
  std::unique_ptr<Share> share_;
  std::mutex pool_mu_;
  std::vector<void*> pool_;  // idle CURL* handles, owned; freed in the destructor
};

}  // namespace svc::images::registry
