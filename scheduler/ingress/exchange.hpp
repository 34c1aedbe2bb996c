#pragma once
// One proxied request, from its head to the last byte of its response, whatever protocol either
// side speaks (it sees only Downstream and Upstream): route by Host, admission (a slot now, or
// held in the activator's queue with a deadline), a pooled or fresh connection to the instance
// (retried on a fresh one when a pooled connection turns out closed and the request is safe to
// send again), the request body pumped up while the response is read, the response streamed
// down, 502/503/504 made here when the instance cannot answer, and one RequestRecord at the end.
//
// Owned by its client connection (an HTTP/1.1 connection holds one and reuses it); runs on the
// connection's worker thread. The activator reaches it through Waiter from any thread: those
// calls only post to the worker.
#include <utility>  // before Asio with g++ 12 in C++20

#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <string>

#include "scheduler/ingress/activator.hpp"
#include "scheduler/ingress/stream.hpp"

namespace svc::ingress {

class Worker;
class Http1Upstream;

class Exchange final : public Waiter {
 public:
  explicit Exchange(Worker& worker);
  ~Exchange() override;

  // self: a pointer that keeps the owning connection alive while a held request waits (an
  // aliasing shared_ptr to this exchange). Set once, before the first run().
  void bind(std::weak_ptr<Waiter> self) { self_ = std::move(self); }

  // Proxies the request whose head down holds; returns when its response has ended (or failed).
  Task<void> run(Downstream& down);
  // May the client connection carry another request after this one.
  bool keep_alive() const { return keep_alive_; }
  bool active() const { return phase_ != Phase::kIdle; }

  // The worker's sweep and instance removal (worker thread).
  void check_deadline(SteadyTime now);
  void abort_instance(std::uint64_t serial, const std::string& why);

  // Waiter (any thread): posted to the worker.
  void granted(std::uint64_t wait_id, Lease lease) override;
  void rejected(std::uint64_t wait_id, int status, std::string reason) override;

 private:
  enum class Phase { kIdle, kQueued, kConnecting, kAwaitingResponse, kStreaming };
  enum class Admit { kProceed, kAnswered };

  Task<Admit> admit();
  Task<void> proxy();
  Task<Io> connect_and_send(bool pooled_ok);
  Task<void> stream_response();
  Task<void> pump_body();
  void start_pump();
  Task<void> stop_pump();
  Task<void> respond(int status, std::string body, std::string_view extra = {}, bool close = false);
  void finish_record(int status);
  bool retryable(bool write_failed) const;
  SteadyTime now() const;

  Worker& worker_;
  std::weak_ptr<Waiter> self_;
  Downstream* down_ = nullptr;
  Phase phase_ = Phase::kIdle;

  // Per request.
  std::uint64_t wait_id_ = 0;
  SteadyTime arrival_{};
  std::chrono::system_clock::time_point wall_arrival_{};
  SteadyTime deadline_{};        // request_timeout from arrival: until the response starts
  SteadyTime phase_deadline_{};  // connect timeout, or body idle while streaming
  std::shared_ptr<ServiceMetrics> metrics_;
  std::shared_ptr<Revision> revision_;
  Lease lease_;
  bool outcome_ready_ = false;
  int rejected_status_ = 0;
  std::string rejected_reason_;
  std::unique_ptr<Http1Upstream> up_;
  std::string forwarding_;
  std::string server_timing_;
  Pieces request_pieces_;
  Pieces response_pieces_;
  bool request_sent_whole_ = false;  // head and whole body went in the first write
  bool pump_running_ = false;
  bool pump_client_gone_ = false;
  bool pump_bad_body_ = false;
  bool pump_upstream_failed_ = false;
  bool timed_out_ = false;
  std::string instance_gone_;  // set when the instance was removed under the request
  bool connect_failed_ = false;  // the last connect_and_send failed at connect: nothing sent
  bool response_started_ = false;
  bool keep_alive_ = true;
  SteadyTime sent_at_{};
  SteadyTime first_byte_at_{};
  std::uint64_t request_bytes_ = 0;
  std::uint64_t response_bytes_ = 0;
  RequestRecord record_;
  boost::asio::steady_timer wake_;       // a held request waits on it; granted() cancels it
  boost::asio::steady_timer pump_join_;  // the response side waits on it for the body pump
};

}  // namespace svc::ingress
