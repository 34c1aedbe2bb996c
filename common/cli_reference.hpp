#pragma once
// Man pages, shell completions and the Markdown CLI reference, rendered from a program's own
// CLI11 definitions, so that what `--help` says, what the man page says and what the shell
// completes are one thing. svcd, svctl and svc-runtime each answer a hidden `--generate WHAT`
// with these (the package build and docs/ use it); nothing here runs on a user's normal path.
#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace svc::cli_reference {

struct ManInfo {
  std::string program;      // "svctl"
  int section = 1;          // 1 for user commands, 8 for the daemon
  std::string summary;      // one line after the name, "the svc command line"
  std::string description;  // paragraphs separated by blank lines
  std::string files;        // "PATH\tmeaning" lines
  std::string see_also;     // "svcd(8), svc-runtime(1)"
};

// A roff man page (man(7) macros) that `man --warnings` reads without a warning.
std::string man_page(const CLI::App& app, const ManInfo& info);

// bash: a completion function for the program's subcommands and options, for
// /usr/share/bash-completion/completions/<program>.
std::string bash_completion(const CLI::App& app, std::string_view program);

// zsh: a #compdef file for /usr/share/zsh/vendor-completions/_<program>.
std::string zsh_completion(const CLI::App& app, std::string_view program);

// Markdown: one section per command with its usage line, description and options.
std::string markdown(const CLI::App& app, std::string_view program, std::string_view intro);

// The formats --generate accepts: "man", "bash-completion", "zsh-completion", "markdown".
// Returns false for another name.
bool generate(const CLI::App& app, const ManInfo& info, std::string_view what, std::string& out);

}  // namespace svc::cli_reference
