#include "api/server/dispatcher.hpp"

#include <stdexcept>

#include <google/protobuf/message.h>
#include <spdlog/spdlog.h>

#include "svc/v1/images.pb.h"
#include "svc/v1/node.pb.h"
#include "svc/v1/schedules.pb.h"
#include "svc/v1/services.pb.h"
#include "svc/v1/tasks.pb.h"
#include "svc/v1/tokens.pb.h"
#include "svc/v1/triggers.pb.h"
#include "svc/v1/usage.pb.h"

namespace svc::api {

namespace pb = google::protobuf;

Dispatcher::Dispatcher() {
  // Touching one message of each file links its generated code and registers its descriptors.
  const pb::FileDescriptor* files[] = {
      v1::NodeInfo::descriptor()->file(), v1::Task::descriptor()->file(),
      v1::Image::descriptor()->file(),    v1::Service::descriptor()->file(),
      v1::UsageRow::descriptor()->file(), v1::Schedule::descriptor()->file(),
      v1::Trigger::descriptor()->file(),  v1::TokenInfo::descriptor()->file(),
  };
  auto* factory = pb::MessageFactory::generated_factory();
  for (const pb::FileDescriptor* file : files) {
    for (int s = 0; s < file->service_count(); ++s) {
      const pb::ServiceDescriptor* service = file->service(s);
      for (int i = 0; i < service->method_count(); ++i) {
        const pb::MethodDescriptor* md = service->method(i);
        Method m;
        m.full_name = fmt::format("{}/{}", service->full_name(), md->name());
        m.descriptor = md;
        m.request_prototype = factory->GetPrototype(md->input_type());
        m.response_prototype = factory->GetPrototype(md->output_type());
        m.server_streaming = md->server_streaming();
        m.client_streaming = md->client_streaming();
        if (m.client_streaming && !m.server_streaming)
          throw std::logic_error(
              fmt::format("{}: client-only streams are not served", m.full_name));
        names_.push_back(m.full_name);
        methods_.emplace(m.full_name, std::move(m));
      }
    }
  }
}

Dispatcher::Method& Dispatcher::must_find(std::string_view full_name, bool streaming,
                                          bool client_streaming) {
  auto it = methods_.find(full_name);
  if (it == methods_.end())
    throw std::logic_error(fmt::format("no method {} in the svc.v1 protos", full_name));
  if (it->second.server_streaming != streaming)
    throw std::logic_error(fmt::format("method {} is {}server-streaming", full_name,
                                       it->second.server_streaming ? "" : "not "));
  if (it->second.client_streaming != client_streaming)
    throw std::logic_error(fmt::format("method {} is {}bidirectional", full_name,
                                       it->second.client_streaming ? "" : "not "));
  return it->second;
}

void Dispatcher::set_unary(std::string_view full_name, UnaryFn fn) {
  must_find(full_name, false).unary = std::move(fn);
}

void Dispatcher::set_stream(std::string_view full_name, StreamFn fn) {
  must_find(full_name, true).stream = std::move(fn);
}

void Dispatcher::set_bidi(std::string_view full_name, BidiFn fn) {
  must_find(full_name, true, true).bidi = std::move(fn);
}

const Dispatcher::Method* Dispatcher::find(std::string_view name) const {
  if (name.starts_with('/')) name.remove_prefix(1);
  auto it = methods_.find(name);
  return it == methods_.end() ? nullptr : &it->second;
}

std::unique_ptr<pb::Message> Dispatcher::new_request(const Method& m) const {
  return std::unique_ptr<pb::Message>(m.request_prototype->New());
}

std::unique_ptr<pb::Message> Dispatcher::new_response(const Method& m) const {
  return std::unique_ptr<pb::Message>(m.response_prototype->New());
}

namespace {
Error unimplemented(const Dispatcher::Method& m) {
  return Error(Code::kUnimplemented,
               fmt::format("{} is not implemented by this svcd yet", m.full_name));
}

template <class Fn>
Result<> guarded(const Dispatcher::Method& m, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    spdlog::error("api: {} threw: {}", m.full_name, e.what());
    return fail(Code::kInternal, "{}: internal error: {}", m.full_name, e.what());
  }
}
}  // namespace

void Dispatcher::set_metrics(metrics::Registry& registry) {
  calls_ =
      &registry.counter("svc_api_requests_total",
                        "API calls (gRPC and REST) by method and status code.", {"method", "code"});
  durations_ =
      &registry.histogram("svc_api_request_duration_seconds",
                          "Time to answer an API call (a stream's whole life).", {"method"});
}

void Dispatcher::observe(const Method& m, const Result<>& r,
                         std::chrono::steady_clock::time_point started) const {
  if (!calls_) return;
  std::string_view code = code_name(r ? Code::kOk : r.error().code());
  calls_->with({m.full_name, code}).inc();
  durations_->with({m.full_name})
      .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

Result<> Dispatcher::call_unary(const Method& m, const pb::Message& req, pb::Message& resp,
                                CallContext& ctx) const {
  auto started = std::chrono::steady_clock::now();
  Result<> r = m.server_streaming || !m.unary ? Result<>(tl::unexpected(unimplemented(m)))
                                              : guarded(m, [&] { return m.unary(req, resp, ctx); });
  observe(m, r, started);
  return r;
}

Result<> Dispatcher::call_stream(const Method& m, const pb::Message& req, StreamSink& sink,
                                 CallContext& ctx) const {
  auto started = std::chrono::steady_clock::now();
  Result<> r = !m.server_streaming || m.client_streaming || !m.stream
                   ? Result<>(tl::unexpected(unimplemented(m)))
                   : guarded(m, [&] { return m.stream(req, sink, ctx); });
  observe(m, r, started);
  return r;
}

Result<> Dispatcher::call_bidi(const Method& m, StreamSource& source, StreamSink& sink,
                               CallContext& ctx) const {
  if (!m.client_streaming || !m.bidi) return tl::unexpected(unimplemented(m));
  return guarded(m, [&] { return m.bidi(source, sink, ctx); });
}

}  // namespace svc::api
