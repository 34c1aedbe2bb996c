#include "cli/output.hpp"

#include <algorithm>
#include <ostream>

#include "api/json.hpp"

namespace svc::cli {

namespace {
// Display width of UTF-8 text: counts code points, which is right for what svc prints.
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}
}  // namespace

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> widths(headers_.size(), 0);
  for (std::size_t i = 0; i < headers_.size(); ++i) widths[i] = width(headers_[i]);
  for (const auto& row : rows_)
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], width(row[i]));
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size()) text += std::string(widths[i] - width(cells[i]) + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << "\n";
  };
  line(headers_);
  for (const auto& row : rows_) line(row);
}

void Fields::print(std::ostream& out) const {
  std::size_t w = 0;
  for (const auto& [k, v] : rows_) w = std::max(w, width(k));
  for (const auto& [k, v] : rows_)
    out << k << ":" << std::string(w - width(k) + 1, ' ') << v << "\n";
}

void print_json(std::ostream& out, const google::protobuf::Message& message) {
  out << api::to_json(message, true);
  out << "\n";
}

}  // namespace svc::cli
