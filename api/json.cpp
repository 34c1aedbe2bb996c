#include "api/json.hpp"

#include <google/protobuf/util/json_util.h>
#include <nlohmann/json.hpp>

namespace svc::api {

std::string to_json(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = false;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return error_json(Error(Code::kInternal, std::string(status.message())));
  return out;
}

Result<> from_json(std::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok())
    return fail(Code::kInvalidArgument, "invalid {} JSON: {}", message->GetDescriptor()->name(),
                std::string(status.message()));
  return {};
}

std::string error_json(const Error& error) {
  nlohmann::json j = {{"code", std::string(code_name(error.code()))}, {"message", error.message()}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace svc::api
