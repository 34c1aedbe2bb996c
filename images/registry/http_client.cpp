#include "images/registry/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

namespace svc::images::registry {

namespace {

struct GlobalInit {
  GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

struct Transfer {
  const HttpRequest* req;
  HttpResponse* resp;
  CURL* easy;
  std::optional<Error> sink_error;
  std::int64_t delivered = 0;
};

std::size_t header_cb(char* data, std::size_t size, std::size_t n, void* opaque) {
  auto* t = static_cast<Transfer*>(opaque);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    t->resp->headers.clear();  // a new response (after a redirect or a 100)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name;
  for (char c : line.substr(0, colon))
    name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
    value.remove_suffix(1);
  t->resp->headers[name] = std::string(value);
  return size * n;
}

std::size_t write_cb(char* data, std::size_t size, std::size_t n, void* opaque) {
  auto* t = static_cast<Transfer*>(opaque);
  std::size_t len = size * n;
  long status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300 && t->req->on_body) {
    auto r = t->req->on_body(status, data, len);
    if (!r) {
      t->sink_error = r.error();
      return 0;  // CURLE_WRITE_ERROR: stops the transfer
    }
    t->delivered += static_cast<std::int64_t>(len);
    return len;
  }
  std::size_t cap = status >= 200 && status < 300 ? t->req->max_body : std::size_t{64} * 1024;
  if (t->resp->body.size() + len > cap) {
    if (status >= 200 && status < 300) {
      t->sink_error =
          Error(Code::kResourceExhausted,
                fmt::format("response from {} is larger than {} bytes", t->req->url, cap));
      return 0;
    }
    len = cap > t->resp->body.size() ? cap - t->resp->body.size() : 0;
    t->resp->body.append(data, len);
    return size * n;
  }
  t->resp->body.append(data, len);
  return len;
}

int progress_cb(void* opaque, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(opaque);
  return t->req->cancelled && t->req->cancelled() ? 1 : 0;
}

}  // namespace

// The share and its locks: curl calls lock/unlock around every access to shared data.
struct HttpClient::Share {
  CURLSH* sh = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;
  Share() {
    static GlobalInit init;
    sh = curl_share_init();
    curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, &Share::lock);
    curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, &Share::unlock);
    curl_share_setopt(sh, CURLSHOPT_USERDATA, this);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Share() { curl_share_cleanup(sh); }
  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* self) {
    static_cast<Share*>(self)->locks[static_cast<std::size_t>(data)].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* self) {
    static_cast<Share*>(self)->locks[static_cast<std::size_t>(data)].unlock();
  }
};

HttpClient::HttpClient(Options options)
    : options_(std::move(options)), share_(std::make_unique<Share>()) {}

HttpClient::~HttpClient() {
  for (void* h : pool_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::take_handle() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      void* h = pool_.back();
      pool_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::give_back(void* h) {
  curl_easy_reset(static_cast<CURL*>(h));
  std::lock_guard lock(pool_mu_);
  pool_.push_back(h);
}

Result<HttpResponse> HttpClient::perform(const HttpRequest& req) {
  CURL* easy = static_cast<CURL*>(take_handle());
  if (!easy) return fail(Code::kInternal, "libcurl: cannot create a handle");
  struct Return {
    HttpClient* self;
    CURL* h;
    ~Return() { self->give_back(h); }
  } give{this, easy};

  HttpResponse resp;
  Transfer t{&req, &resp, easy, std::nullopt, 0};
  curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  struct FreeList {
    curl_slist*& l;
    ~FreeList() { curl_slist_free_all(l); }
  } free_list{headers};

  curl_easy_setopt(easy, CURLOPT_SHARE, share_->sh);
  curl_easy_setopt(easy, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req.method == "GET" ? nullptr : req.method.c_str());
  if (req.method == "HEAD") curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  // Registries redirect blob downloads to storage (S3, a CDN). curl does not send our
  // Authorization header to another host (CURLOPT_UNRESTRICTED_AUTH stays off).
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  // Stall detection: less than 1 byte/s for stall_timeout (libcurl: LOW_SPEED_LIMIT/TIME, in
  // whole seconds, at least 1).
  long stall_s =
      std::max<long>(1, static_cast<long>((options_.stall_timeout.count() + 999) / 1000));
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, stall_s);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, nullptr);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, progress_cb);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  std::string range;
  if (req.range_from > 0) {
    range = fmt::format("{}-", req.range_from);
    curl_easy_setopt(easy, CURLOPT_RANGE, range.c_str());
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);

  CURLcode rc = curl_easy_perform(easy);
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp.status);
  char* eff = nullptr;
  curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &eff);
  if (eff) resp.effective_url = eff;
  curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &resp.http_version);
  if (rc == CURLE_OK) return resp;
  if (t.sink_error) return tl::unexpected(*t.sink_error);
  std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  while (!detail.empty() && detail.back() == '\n') detail.pop_back();
  switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
      return fail(Code::kCancelled, "{}: cancelled", req.url);
    case CURLE_OPERATION_TIMEDOUT:
      return fail(Code::kDeadlineExceeded,
                  "{}: the registry sent nothing for {} s ({}); it may be hung or overloaded",
                  req.url, stall_s, detail);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return fail(Code::kAborted, "{}: connection cut after {} bytes ({})", req.url, t.delivered,
                  detail);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
      return fail(Code::kUnavailable, "{}: cannot connect ({})", req.url, detail);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION: {
      // The commonest cause: a registry that serves plain HTTP. Name the exact line to add.
      std::string host = req.url.substr(req.url.find("://") + 3);
      host = host.substr(0, host.find('/'));
      return fail(Code::kUnavailable,
                  "{}: TLS failed ({}). If {} serves plain HTTP, add it to svcd's config "
                  "(/etc/svcd/svcd.toml, or --config) and restart svcd: [registries] "
                  "insecure = [\"{}\"]",
                  req.url, detail, host, host);
    }
    default:
      return fail(Code::kUnavailable, "{}: {}", req.url, detail);
  }
}

}  // namespace svc::images::registry
