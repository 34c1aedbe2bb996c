#include <catch2/catch.hpp>

#include <algorithm>
#include <regex>
#include <set>
#include <sstream>

#include "daemon/config.hpp"
#include "daemon/config_reference.hpp"

using namespace svc;
using namespace svc::daemon;

TEST_CASE("every key svcd reads is documented, and every documented key is read", "[config]") {
  std::set<std::string> documented, tables;
  for (const auto& d : config_key_docs()) {
    if (d.key.empty()) {
      tables.insert(std::string(d.table));
      continue;
    }
    INFO(d.table << "." << d.key);
    CHECK(!d.help.empty());
    CHECK(tables.count(std::string(d.table)) == 1);  // the table's own entry comes first
    CHECK(documented.insert(fmt::format("{}.{}", d.table, d.key)).second);
  }
  std::set<std::string> read;
  for (const auto& k : effective_config_keys()) read.insert(k);
  for (const auto& k : read) {
    INFO("svcd reads " << k << ": add it to config_key_docs() (daemon/config_reference.cpp)");
    CHECK(documented.count(k) == 1);
  }
  for (const auto& k : documented) {
    INFO(k << " is documented but svcd does not print it in to_toml()");
    CHECK(read.count(k) == 1);
  }
}

TEST_CASE("the default config file parses as the defaults, commented or not", "[config]") {
  std::string file = default_config_file();
  auto as_shipped = parse_config(file, "svcd.toml");
  INFO(file);
  REQUIRE(as_shipped);
  CHECK(to_toml(*as_shipped) == to_toml(Config{}));

  // Uncomment every key line ("#key = value", "#\"host\" = [...]"): still the defaults, so a
  // user who uncomments a line changes nothing until they change its value.
  std::regex key_line(R"(^#([A-Za-z_"][^ ]* = .*)$)");
  std::string uncommented;
  int keys = 0;
  std::istringstream in(file);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, key_line)) {
      line = m[1];
      ++keys;
    }
    uncommented += line + "\n";
  }
  auto parsed = parse_config(uncommented, "uncommented.toml");
  INFO(uncommented);
  REQUIRE(parsed);
  CHECK(to_toml(*parsed) == to_toml(Config{}));
  // Every key except the (empty) mirrors table has a line.
  CHECK(keys == static_cast<int>(effective_config_keys().size()) - 1);
}

TEST_CASE("the reference shows each key with its default", "[config]") {
  std::string md = config_reference_markdown();
  CHECK(md.find("| `state_dir` | string | `\"/var/lib/svcd\"` |") != std::string::npos);
  CHECK(md.find("| `max_attempts` | integer | `4` |") != std::string::npos);
  CHECK(md.find("## [billing]") != std::string::npos);
  for (const auto& k : effective_config_keys()) {
    auto key = k.substr(k.find('.') + 1);
    INFO(k);
    CHECK(md.find(fmt::format("| `{}` |", key)) != std::string::npos);
  }
}
