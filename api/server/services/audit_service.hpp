#pragma once
// The audit log at the API's edge: every call that changes something is appended to an
// AuditBackend (the daemon's store) with who made it, what it named, when and how it ended;
// Audit.List reads it back (`svctl audit`). Reads are not recorded: a log of every `ps` would
// bury the changes and grow without bound.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "api/server/dispatcher.hpp"
#include "common/clock.hpp"

namespace svc::api {

struct AuditRecord {
  std::int64_t id = 0;  // given by the backend
  std::chrono::system_clock::time_point at;
  std::string principal;  // "uid:1000", "token:ci", "cert:CN=ops", "in-process"
  std::string transport;  // "unix", "tcp", "in-process"
  std::string peer;       // TCP peer address
  std::string method;     // "svc.v1.Tasks/Run"
  std::string target;     // the id, name or reference the request named
  std::string code;       // "OK" or the gRPC code name
  std::string message;    // the error's message
};

class AuditBackend {
 public:
  virtual ~AuditBackend() = default;
  virtual Result<> append(const AuditRecord& record) = 0;
  // Newest first, at most limit, those at or after since.
  virtual Result<std::vector<AuditRecord>> list(
      std::optional<std::chrono::system_clock::time_point> since, int limit) = 0;
};

// Whether a method changes something: everything except the reads (List, Get, Info, Logs,
// Wait, Events, Query, Watch). A method added to the protos is audited unless it is a read.
bool is_mutating(const Dispatcher::Method& method);

// What a request names, for the log: its id, name, reference or path field, else the name or image
// of its spec; "" when it names nothing.
std::string call_target(const google::protobuf::Message& request);

// "uid:N", "token:NAME", ... from a call's context.
std::string principal_of(const CallContext& ctx);

// Registers Audit.List (on the unix socket only, as token management is) and makes the
// dispatcher append every mutating call to backend. A failed append is logged, never turned
// into a failed call: the call has already happened.
void register_audit_service(Dispatcher& dispatcher, AuditBackend& backend, const Clock& clock);

}  // namespace svc::api
