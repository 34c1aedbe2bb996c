#include "scheduler/ingress/proxy.hpp"

#include <utility>  // before Asio with g++ 12 in C++20

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>
#include <thread>

#include "common/address.hpp"
#include "scheduler/ingress/context.hpp"
#include "scheduler/ingress/http1_connection.hpp"
#include "scheduler/ingress/readiness.hpp"
#include "scheduler/ingress/worker.hpp"

namespace svc::ingress {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

struct Proxy::Impl {
  Impl(ProxyOptions o, ControlPlane& cp, const Clock& c) : ctx(std::move(o), cp, c) {}
  ~Impl() {
    acceptor.reset();  // before worker 0's io_context
    workers.clear();
  }

  Task<void> accept_loop();
  Worker& next() { return *workers[next_worker.fetch_add(1) % workers.size()]; }

  ProxyContext ctx;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<tcp::acceptor> acceptor;  // on workers[0]'s io_context
  std::atomic<std::size_t> next_worker{0};
  std::atomic<bool> stopped{false};
  std::string bound;
  std::uint16_t port = 0;
};

namespace {

Result<> validate(const ProxyOptions& o) {
  if (normalize_domain(o.domain).empty())
    return fail(Code::kInvalidArgument,
                "[ingress] domain is empty: services answer at NAME.<domain>; the default is "
                "\"localhost\"");
  if (!valid_host(normalize_domain(o.domain)))
    return fail(Code::kInvalidArgument, "[ingress] domain \"{}\" is not a valid host name",
                o.domain);
  if (o.threads < 0 || o.threads > 256)
    return fail(Code::kInvalidArgument, "[ingress] threads = {}: use 0 (one per core) to 256",
                o.threads);
  const Limits& l = o.limits;
  if (l.max_header_bytes < 1024 || l.max_header_bytes > (1u << 20))
    return fail(Code::kInvalidArgument,
                "ingress max_header_bytes = {}: use 1 KiB to 1 MiB (default 64 KiB)",
                l.max_header_bytes);
  if (l.max_response_header_bytes < 1024 || l.max_response_header_bytes > (1u << 20))
    return fail(Code::kInvalidArgument,
                "ingress max_response_header_bytes = {}: use 1 KiB to 1 MiB (default 64 KiB)",
                l.max_response_header_bytes);
  if (l.max_header_count < 1 || l.max_header_count > 10'000)
    return fail(Code::kInvalidArgument,
                "ingress max_header_count = {}: use 1 to 10000 (default 100)", l.max_header_count);
  if (l.io_buffer_bytes < 1024 || l.io_buffer_bytes > (16u << 20))
    return fail(Code::kInvalidArgument,
                "ingress io_buffer_bytes = {}: use 1 KiB to 16 MiB (default 16 KiB)",
                l.io_buffer_bytes);
  const Timeouts& t = o.timeouts;
  const std::pair<const char*, Millis> timeouts[] = {{"header_read", t.header_read},
                                                     {"keep_alive_idle", t.keep_alive_idle},
                                                     {"body_idle", t.body_idle},
                                                     {"upstream_connect", t.upstream_connect}};
  for (const auto& [name, v] : timeouts)
    if (v.count() <= 0)
      return fail(Code::kInvalidArgument, "ingress timeout {} must be positive", name);
  return {};
}

Result<tcp::endpoint> listen_endpoint(const std::string& listen) {
  auto addr = SVC_TRY_CTX(parse_host_port(listen, "[ingress] listen"), "ingress");
  std::string host = addr.host == "localhost" ? "127.0.0.1" : addr.host;
  error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec)
    return fail(Code::kInvalidArgument,
                "ingress: [ingress] listen = \"{}\": \"{}\" is not an IP address of this machine "
                "(write e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::]:8080)",
                listen, addr.host);
  return tcp::endpoint(ip, addr.port);
}

}  // namespace

Task<void> Proxy::Impl::accept_loop() {
  asio::steady_timer backoff(acceptor->get_executor());
  for (;;) {
    Worker& w = next();
    error_code ec;
    auto socket =
        co_await acceptor->async_accept(w.io(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      // Out of file descriptors (EMFILE/ENFILE) or a connection reset before accept: wait a
      // little rather than spin, and go on.
      backoff.expires_after(std::chrono::milliseconds(10));
      co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    if (ctx.stopping) continue;  // closes it
    asio::post(w.io(), [&w, s = tcp::socket(std::move(socket))]() mutable {
      auto conn = std::make_shared<Http1Connection>(w, std::move(s));
      asio::co_spawn(w.io(), conn->run(conn), asio::detached);
    });
  }
}

Result<std::unique_ptr<Proxy>> Proxy::start(ProxyOptions options, ControlPlane& control,
                                            const Clock& clock) {
  SVC_TRY(validate(options));
  tcp::endpoint at = SVC_TRY(listen_endpoint(options.listen));
  int threads = options.threads > 0
                    ? options.threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto impl = std::make_unique<Impl>(std::move(options), control, clock);
  for (int i = 0; i < threads; ++i)
    impl->workers.push_back(std::make_unique<Worker>(impl->ctx, static_cast<std::size_t>(i)));

  impl->acceptor = std::make_unique<tcp::acceptor>(impl->workers[0]->io());
  error_code ec;
  impl->acceptor->open(at.protocol(), ec);
  if (!ec) impl->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor->bind(at, ec);
  if (!ec) impl->acceptor->listen(4096, ec);
  if (ec)
    return tl::unexpected(
        Error(ec == asio::error::address_in_use ? Code::kUnavailable : Code::kInvalidArgument,
              fmt::format("ingress: cannot listen on {}: {} ({}; set [ingress] listen to another "
                          "address, or to \"\" to turn the ingress off)",
                          impl->ctx.options.listen, ec.message(),
                          ec == asio::error::address_in_use
                              ? "another program, or another svcd, uses that port"
                              : "is the address one of this machine's?"),
              ec.value()));
  auto local = impl->acceptor->local_endpoint(ec);
  impl->port = local.port();
  impl->bound = local.address().is_v6()
                    ? fmt::format("[{}]:{}", local.address().to_string(), impl->port)
                    : fmt::format("{}:{}", local.address().to_string(), impl->port);
  Impl* raw = impl.get();
  asio::co_spawn(impl->workers[0]->io(), raw->accept_loop(), asio::detached);
  for (auto& w : impl->workers) w->start();
  return std::unique_ptr<Proxy>(new Proxy(std::move(impl)));
}

Proxy::Proxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Proxy::~Proxy() { stop(Millis(0)); }

std::uint16_t Proxy::port() const { return impl_->port; }
std::string Proxy::listen_address() const { return impl_->bound; }

void Proxy::stop(Millis grace) {
  Impl& m = *impl_;
  if (m.stopped.exchange(true)) return;
  m.ctx.stopping = true;
  std::promise<void> closed;
  asio::post(m.workers[0]->io(), [&] {
    error_code ec;
    m.acceptor->close(ec);
    closed.set_value();
  });
  closed.get_future().wait();
  m.ctx.activator.shutdown("the ingress is shutting down");
  for (auto& w : m.workers) w->post_stop(false);
  // Requests in progress finish within grace; then everything is closed. Real time: this is
  // the daemon shutting down, not logic under test.
  auto wait_closed = [&](std::chrono::steady_clock::duration d) {
    auto end = std::chrono::steady_clock::now() + d;
    while (m.ctx.counters.connections_open.load() > 0 && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  wait_closed(grace);
  for (auto& w : m.workers) w->post_stop(true);
  wait_closed(std::chrono::seconds(1));
  for (auto& w : m.workers) w->join();
}

std::string Proxy::metrics_text() const {
  return render_metrics(impl_->ctx.activator.gauges(), impl_->ctx.counters);
}

void Proxy::set_route(ServiceRoute route) { impl_->ctx.activator.set_route(std::move(route)); }

void Proxy::remove_route(const std::string& service) { impl_->ctx.activator.remove_route(service); }

void Proxy::add_instance(InstanceEndpoint endpoint, Readiness readiness) {
  auto inst = impl_->ctx.activator.add_instance(std::move(endpoint), std::move(readiness));
  if (!impl_->stopped) start_probe(impl_->next(), std::move(inst));
}

void Proxy::drain_instance(const std::string& instance_id) {
  impl_->ctx.activator.drain_instance(instance_id);
}

void Proxy::remove_instance(const std::string& instance_id, std::string why) {
  auto inst = impl_->ctx.activator.remove_instance(instance_id);
  if (!inst) return;
  for (auto& w : impl_->workers) w->post_purge(inst->serial, why);
}

void Proxy::fail_waiting(const std::string& revision, std::string why, int status) {
  impl_->ctx.activator.fail_waiting(revision, why, status);
}

std::vector<RevisionLoad> Proxy::load() const { return impl_->ctx.activator.load(); }

}  // namespace svc::ingress
