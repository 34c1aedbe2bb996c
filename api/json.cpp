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

namespace {

// Finds the first syntax error, if any, with its line and column: protobuf's own parser says
// only "Unexpected token." and a few characters around it. A SAX pass builds nothing.
class SyntaxCheck final : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    // "[json.exception.parse_error.101] parse error at line 1, column 10: syntax error ..."
    std::string what = e.what();
    if (auto close = what.find("] "); what.starts_with("[json.exception") && close != what.npos)
      what = what.substr(close + 2);
    error = what;
    return false;
  }
  std::string error;
};

}  // namespace

Result<> from_json(std::string_view json, google::protobuf::Message* message) {
  SyntaxCheck check;
  nlohmann::json::sax_parse(json.begin(), json.end(), &check);
  if (!check.error.empty())
    return fail(Code::kInvalidArgument, "invalid {} JSON: {}", message->GetDescriptor()->name(),
                check.error);
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
