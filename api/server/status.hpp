#pragma once
// The one place where svc errors become gRPC status codes and HTTP statuses.
#include <grpcpp/support/status.h>

#include "common/result.hpp"

namespace svc::api {

grpc::StatusCode to_grpc_code(Code code);
grpc::Status to_grpc_status(const Error& error);
Code from_grpc_code(grpc::StatusCode code);
// google.rpc.Code -> HTTP, as in google/rpc/code.proto.
int http_status(Code code);

}  // namespace svc::api
