#include "cli/suggest.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace svc::cli {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: Levenshtein plus swaps of two neighbours, the commonest typo.
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::vector<std::string> nearest_names(std::string_view word,
                                       const std::vector<std::string>& names) {
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const auto& name : names) {
    std::size_t dist = edit_distance(word, name);
    bool prefix = word.size() >= 2 && name.starts_with(word);
    if (prefix || (dist <= 2 && dist < word.size())) scored.emplace_back(prefix ? 0 : dist, name);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (const auto& [dist, name] : scored) out.push_back(name);
  return out;
}

namespace {

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  return names;
}

const CLI::App* find_command(const CLI::App& app, const std::string& word) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (sub->check_name(word)) return sub;
  return nullptr;
}

// Does the option spelled `token` (no "=value") take a value?
bool takes_value(const CLI::App& app, const std::string& token) {
  const CLI::Option* opt = app.get_option_no_throw(token);
  return opt && opt->get_expected_min() > 0;
}

}  // namespace

CommandWords check_command_words(const CLI::App& app, const std::vector<std::string>& args) {
  CommandWords out;
  const CLI::App* level = &app;
  std::string path = "svctl";
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& token = args[i];
    if (token == "--") break;
    if (token.size() > 1 && token[0] == '-') {
      if (token == "-h" || token == "--help") {
        if (!out.any) out.help = true;
        return out;
      }
      if (token.find('=') == std::string::npos && takes_value(*level, token)) ++i;
      continue;
    }
    // A level without subcommands takes positionals from here on (an image, a task id).
    if (level->get_subcommands([](const CLI::App*) { return true; }).empty()) return out;
    const CLI::App* sub = find_command(*level, token);
    if (!sub) {
      auto names = command_names(*level);
      auto near = nearest_names(token, names);
      std::string msg = fmt::format("unknown command \"{}\"{}", token,
                                    level == &app ? "" : fmt::format(" for {}", path));
      if (!near.empty()) {
        msg += "; did you mean ";
        for (std::size_t k = 0; k < near.size() && k < 3; ++k)
          msg += fmt::format("{}\"{}\"", k == 0 ? "" : " or ", near[k]);
        msg += "?";
      }
      msg += fmt::format(" (`{} --help` lists the commands)", path);
      out.error = msg;
      return out;
    }
    out.any = true;
    level = sub;
    path += " " + sub->get_name();
  }
  return out;
}

}  // namespace svc::cli
