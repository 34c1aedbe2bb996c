#pragma once
// What each configuration key means, for people: the commented default /etc/svcd/svcd.toml the
// package ships and the configuration reference in docs/ are both rendered from this table and
// from the defaults of Config itself (to_toml(Config{})), so neither can drift from what svcd
// reads. A unit test fails when a key svcd reads has no entry here, or an entry names a key svcd
// does not read.
#include <string>
#include <string_view>
#include <vector>

namespace svc::daemon {

struct ConfigKeyDoc {
  std::string_view table;         // "daemon", "registries.mirrors"
  std::string_view key;           // "state_dir"; "" documents the table itself
  std::string_view help;          // one or more sentences; wrapped when rendered
  std::string_view example = {};  // a TOML value shown beside the default ("\"127.0.0.1:7070\"")
};

// Every table and key, in the order the rendered file shows them.
const std::vector<ConfigKeyDoc>& config_key_docs();

// The commented default config file: every key, commented out, at its embedded default, with
// its help text above it. Uncommenting any key leaves svcd's behaviour unchanged.
std::string default_config_file();

// docs/configuration.md: every key, its type as TOML shows it, its default and its meaning.
std::string config_reference_markdown();

// "table.key" for every key of to_toml(Config{}) (sub-tables such as registries.mirrors count
// as one key of their parent table).
std::vector<std::string> effective_config_keys();

}  // namespace svc::daemon
