#include "api/server/status.hpp"

namespace svc::api {

grpc::StatusCode to_grpc_code(Code code) {
  // svc::Code follows the canonical gRPC numbering on purpose.
  return static_cast<grpc::StatusCode>(static_cast<int>(code));
}

Code from_grpc_code(grpc::StatusCode code) {
  int c = static_cast<int>(code);
  if (c < 0 || c > static_cast<int>(Code::kUnauthenticated)) return Code::kUnknown;
  return static_cast<Code>(c);
}

grpc::Status to_grpc_status(const Error& error) {
  return grpc::Status(to_grpc_code(error.code()), error.message());
}

int http_status(Code code) {
  switch (code) {
    case Code::kOk:
      return 200;
    case Code::kCancelled:
      return 499;
    case Code::kUnknown:
      return 500;
    case Code::kInvalidArgument:
      return 400;
    case Code::kDeadlineExceeded:
      return 504;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kPermissionDenied:
      return 403;
    case Code::kResourceExhausted:
      return 429;
    case Code::kFailedPrecondition:
      return 400;
    case Code::kAborted:
      return 409;
    case Code::kOutOfRange:
      return 400;
    case Code::kUnimplemented:
      return 501;
    case Code::kInternal:
      return 500;
    case Code::kUnavailable:
      return 503;
    case Code::kDataLoss:
      return 500;
    case Code::kUnauthenticated:
      return 401;
  }
  return 500;
}

}  // namespace svc::api
