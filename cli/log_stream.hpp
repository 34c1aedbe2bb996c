#pragma once
// Streams a task's logs to the terminal: stdout lines to stdout, stderr lines to stderr.
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "cli/context.hpp"

namespace svc::cli {

struct LogOptions {
  bool follow = false;
  int tail = 0;
  std::optional<google::protobuf::Timestamp> since;
  bool timestamps = false;
};

// Runs until the stream ends (task stopped and drained, or not following) or call is cancelled.
grpc::Status stream_logs(Context& ctx, grpc::ClientContext* call, const std::string& task,
                         const LogOptions& options);

}  // namespace svc::cli
