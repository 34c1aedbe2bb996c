#pragma once
// How svctl prints: human tables (the default) or the API's own messages as JSON (-o json).
#include <iosfwd>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

namespace svc::cli {

enum class OutputFormat { kTable, kJson };

// Columns sized to their widest cell, two spaces apart; headers in capitals as docker prints.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out) const;
  bool empty() const { return rows_.empty(); }

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "key: value" lines with aligned values, for one object.
class Fields {
 public:
  void add(std::string key, std::string value) {
    rows_.emplace_back(std::move(key), std::move(value));
  }
  void print(std::ostream& out) const;

 private:
  std::vector<std::pair<std::string, std::string>> rows_;
};

void print_json(std::ostream& out, const google::protobuf::Message& message);

}  // namespace svc::cli
