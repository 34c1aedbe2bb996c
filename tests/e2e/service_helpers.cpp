#include "tests/e2e/service_helpers.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

#include <sstream>

#include "tests/support/busybox_image.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_httpd.hpp"

namespace svc::test::services {

namespace {

Images* make_images() {
  auto* im = new Images();
  im->registry.start();
  // svc-test-httpd listens on $PORT (svc sets it, as Cloud Run does) on 127.0.0.1: its
  // instance's own loopback, where the ingress reaches it.
  ImageBuilder httpd = busybox_image();
  httpd.layer(LayerBuilder().file_from("bin/svc-test-httpd", test_httpd_binary(), 0755));
  httpd.config().entrypoint = {"/bin/svc-test-httpd"};
  httpd.config().cmd = {};
  im->httpd = im->registry.push(httpd, "e2e/test-httpd:1");
  // busybox httpd in the foreground on 8080, serving one page.
  ImageBuilder bb = busybox_image();
  bb.layer(LayerBuilder().dir("www").file("www/index.html", "hello from busybox httpd\n"));
  bb.config().cmd = {"httpd", "-f", "-v", "-p", "8080", "-h", "/www"};
  im->busybox = im->registry.push(bb, "e2e/busybox-httpd:1");
  return im;
}

}  // namespace

Images& images() {
  // Destroyed when the binary exits, after every test (and its daemon) ended: the registry
  // stops and its directory goes.
  static std::unique_ptr<Images> im(make_images());
  return *im;
}

std::unique_ptr<DaemonFixture> start_daemon(const std::string& extra) {
  DaemonFixture::Options o;
  o.extra_config =
      fmt::format("[registries]\ninsecure = [\"{}\"]\n{}", images().registry.host(), extra);
  auto d = std::make_unique<DaemonFixture>(o);
  d->start();
  return d;
}

Response get(const std::string& url, std::chrono::milliseconds timeout) {
  Response out;
  auto secs = std::to_string(std::max<long long>(1, timeout.count() / 1000));
  auto r = run({"curl", "-sS", "-i", "--max-time", secs, url}, timeout + std::chrono::seconds(5));
  if (r.exit_code != 0) {
    out.error = r.err;
    return out;
  }
  // Interim 1xx responses first, then the final one: take the last head.
  std::string text = r.out;
  for (;;) {
    auto end = text.find("\r\n\r\n");
    if (end == std::string::npos) {
      out.error = "no response head in: " + text.substr(0, 200);
      return out;
    }
    std::istringstream head(text.substr(0, end));
    std::string line;
    std::getline(head, line);
    auto sp = line.find(' ');
    out.status = sp == std::string::npos ? 0 : std::atoi(line.c_str() + sp + 1);
    out.headers.clear();
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      out.headers[name] = value;
    }
    text = text.substr(end + 4);
    if (out.status >= 200 || out.status == 0) break;
  }
  out.body = text;
  return out;
}

json describe(const DaemonFixture& d, const std::string& name) {
  auto r = d.svctl({"service", "describe", name, "-o", "json"});
  if (r.exit_code != 0) return json();
  try {
    return json::parse(r.out);
  } catch (const std::exception&) {
    return json();
  }
}

int instances_in(const json& service, const std::string& state) {
  int n = 0;
  if (service.is_object() && service.contains("instances"))
    for (const auto& i : service["instances"])
      if (i.value("state", "") == state) ++n;
  return n;
}

int instance_count(const json& service) {
  if (!service.is_object() || !service.contains("instances")) return 0;
  return static_cast<int>(service["instances"].size());
}

bool wait_service(const DaemonFixture& d, const std::string& name,
                  const std::function<bool(const json&)>& pred, std::chrono::milliseconds timeout) {
  return wait_for(
      [&] {
        json s = describe(d, name);
        return !s.is_null() && pred(s);
      },
      timeout);
}

std::string deploy(const DaemonFixture& d, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"deploy"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = d.svctl(argv, std::chrono::seconds(120));
  INFO("svctl deploy: " << r.err << "\nsvcd's log:\n" << d.log());
  REQUIRE(r.exit_code == 0);
  std::string url = r.out;
  while (!url.empty() && (url.back() == '\n' || url.back() == '\r')) url.pop_back();
  return url;
}

// ---- Traffic --------------------------------------------------------------------------------

Traffic::Traffic(std::function<int()> port, std::string host, std::string path, int clients)
    : port_(std::move(port)), host_(std::move(host)), path_(std::move(path)) {
  for (int i = 0; i < clients; ++i) threads_.emplace_back([this, i] { loop(i); });
}

Traffic::~Traffic() { stop(); }

void Traffic::stop() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
}

void Traffic::loop(int index) {
  auto started = std::chrono::steady_clock::now();
  int n = 0;
  while (!stop_) {
    int status = 0;
    std::string body, error;
    {
      HttpConnection c(port_(), std::chrono::seconds(30));
      if (!c.connected()) {
        error = "connect: " + c.last_error();
      } else if (!c.send(request_bytes("GET", host_, path_))) {
        error = "send: " + c.last_error();
      } else if (auto r = c.read_response()) {
        status = r->status;
        body = r->body;
      } else {
        error = "no response: " + c.last_error();
      }
    }
    std::lock_guard lock(mu_);
    ++by_status_[status];
    ++done_;
    if (status == 200 && (n++ % 10) == 0 && bodies_.size() < 5000) bodies_.push_back(body);
    if ((status == 0 || status >= 500) && errors_.size() < 20) {
      auto at = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - started);
      errors_.push_back(fmt::format("client {} at {} ms: {} {}", index, at.count(), status,
                                    status ? body.substr(0, 200) : error));
    }
    if (status == 0) {
      // Refused (svcd restarting): do not spin.
      struct timespec ts {
        0, 2'000'000
      };
      nanosleep(&ts, nullptr);
    }
  }
}

std::map<int, int> Traffic::by_status() const {
  std::lock_guard lock(mu_);
  return by_status_;
}

int Traffic::total() const {
  std::lock_guard lock(mu_);
  return done_;
}

int Traffic::count(int status) const {
  std::lock_guard lock(mu_);
  auto it = by_status_.find(status);
  return it == by_status_.end() ? 0 : it->second;
}

std::vector<std::string> Traffic::bodies_sample() const {
  std::lock_guard lock(mu_);
  return bodies_;
}

std::vector<std::string> Traffic::errors() const {
  std::lock_guard lock(mu_);
  return errors_;
}

std::string Traffic::summary() const {
  std::lock_guard lock(mu_);
  std::string s = fmt::format("{} requests:", done_);
  for (const auto& [status, n] : by_status_) s += fmt::format(" {} x{}", status, n);
  for (const auto& e : errors_) s += "\n  " + e;
  return s;
}

bool Traffic::wait_more(int n, std::chrono::milliseconds timeout) const {
  int target = total() + n;
  return wait_for([&] { return total() >= target; }, timeout);
}

long long count_of(const json& field) {
  if (field.is_string()) return std::stoll(field.get<std::string>());
  if (field.is_number()) return field.get<long long>();
  return 0;
}

std::string archived_output(const DaemonFixture& d, const std::string& name) {
  std::string out;
  std::error_code ec;
  auto dir = d.state_dir() / "services" / name / "instances";
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(e.path() / "log");
    std::stringstream text;
    text << in.rdbuf();
    out += "--- " + e.path().filename().string() + "\n" + text.str();
  }
  return out;
}

}  // namespace svc::test::services
