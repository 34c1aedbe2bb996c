#pragma once
// Time between the plain C++ of the modules and protobuf's well-known types.
#include <chrono>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

namespace svc::api {

inline google::protobuf::Timestamp to_timestamp(std::chrono::system_clock::time_point t) {
  return google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

inline std::chrono::system_clock::time_point from_timestamp(const google::protobuf::Timestamp& t) {
  return std::chrono::system_clock::time_point(
      std::chrono::milliseconds(google::protobuf::util::TimeUtil::TimestampToMilliseconds(t)));
}

inline google::protobuf::Duration to_duration(std::chrono::milliseconds d) {
  return google::protobuf::util::TimeUtil::MillisecondsToDuration(d.count());
}

}  // namespace svc::api
