#pragma once
// What svctl does before CLI11 parses: find the command words on the command line, so a bare
// `svctl` prints the help and a mistyped command says so and names the nearest ones
// (`svctl rnu` -> did you mean "run"?) instead of CLI11's "arguments were not expected".
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace svc::cli {

struct CommandWords {
  bool any = false;   // a command word was given (else: bare svctl, or only options)
  bool help = false;  // -h/--help was given before any command word
  // Set when a word names no command: "unknown command \"rnu\" ..." with the suggestions.
  std::optional<std::string> error;
};

// args: argv[1..]. Skips the options of each level (and the value of those that take one);
// "--" ends the command words. Checks a level's word only when that level has subcommands.
CommandWords check_command_words(const CLI::App& app, const std::vector<std::string>& args);

// Edit distance with adjacent transpositions counted as one edit ("rnu" -> "run" is 1).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The names closest to word (distance at most 2, and less than the word's length), or those it
// is a prefix of; nearest first.
std::vector<std::string> nearest_names(std::string_view word,
                                       const std::vector<std::string>& names);

}  // namespace svc::cli
