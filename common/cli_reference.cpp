#include "common/cli_reference.hpp"

#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

namespace svc::cli_reference {

namespace {

// One command of the tree, flattened: its path from the program ("image", "rm"), and what
// --help would show (an option or subcommand in the group "" is hidden, as CLI11 hides it).
struct Command {
  std::vector<std::string> path;
  const CLI::App* app = nullptr;
  std::vector<const CLI::Option*> options;      // named ones, help flag included
  std::vector<const CLI::Option*> positionals;  // in order
  std::vector<const CLI::App*> subcommands;
};

bool hidden(const CLI::App* a) { return a->get_group().empty(); }
bool hidden(const CLI::Option* o) { return o->get_group().empty(); }

void collect(const CLI::App* app, std::vector<std::string> path, std::vector<Command>& out) {
  Command c;
  c.path = path;
  c.app = app;
  for (const CLI::Option* o : app->get_options()) {
    if (hidden(o)) continue;
    (o->nonpositional() ? c.options : c.positionals).push_back(o);
  }
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; }))
    if (!hidden(sub)) c.subcommands.push_back(sub);
  out.push_back(c);
  for (const CLI::App* sub : c.subcommands) {
    auto p = path;
    p.push_back(sub->get_name());
    collect(sub, p, out);
  }
}

std::vector<Command> tree(const CLI::App& app) {
  std::vector<Command> out;
  collect(&app, {}, out);
  return out;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : std::string(sep)) + p;
  return out;
}

bool takes_value(const CLI::Option* o) { return o->get_items_expected_max() > 0; }

std::string value_name(const CLI::Option* o) {
  std::string t = o->get_type_name();
  // "TEXT:{table,json}" and similar: the part before the validator's description.
  if (auto colon = t.find(':'); colon != std::string::npos) t = t.substr(0, colon);
  return t.empty() ? "VALUE" : t;
}

std::vector<std::string> names(const CLI::Option* o) {
  std::vector<std::string> out;
  for (const auto& s : o->get_snames()) out.push_back("-" + s);
  for (const auto& l : o->get_lnames()) out.push_back("--" + l);
  return out;
}

std::string positional_usage(const CLI::Option* o) {
  std::string n = o->get_name(true);
  for (auto& ch : n) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (o->get_items_expected_max() > 1) n += "...";
  return o->get_required() ? n : "[" + n + "]";
}

std::string usage(const std::string& program, const Command& c) {
  std::string u = program;
  for (const auto& p : c.path) u += " " + p;
  bool any = false;
  for (const CLI::Option* o : c.options)
    any = any || o->get_lnames() != std::vector<std::string>{"help"};
  if (any) u += " [OPTIONS]";
  for (const CLI::Option* p : c.positionals) u += " " + positional_usage(p);
  if (!c.subcommands.empty()) u += " COMMAND";
  return u;
}

std::string option_help(const CLI::Option* o) {
  std::string d = o->get_description();
  std::string def = o->get_default_str();
  if (!def.empty() && takes_value(o)) d += fmt::format(" (default: {})", def);
  std::string t = o->get_type_name();
  if (auto colon = t.find(':'); colon != std::string::npos) d += " " + t.substr(colon + 1);
  return d;
}

// --- roff ---

std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out.push_back(c);
  }
  return out;
}

// Lines of text as roff: a line that would start with '.' or '\'' is protected, a blank line
// is a paragraph break.
std::string roff_text(std::string_view text) {
  std::string out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) {
      out += ".PP\n";
      continue;
    }
    std::string r = roff(line);
    if (r[0] == '.' || r[0] == '\'') r = "\\&" + r;
    out += r + "\n";
  }
  return out;
}

std::string roff_option(const CLI::Option* o) {
  std::string head;
  for (const auto& n : names(o)) head += (head.empty() ? "" : ", ") + ("\\fB" + roff(n) + "\\fR");
  if (takes_value(o)) head += " \\fI" + roff(value_name(o)) + "\\fR";
  return ".TP\n" + head + "\n" + roff_text(option_help(o));
}

std::string upper(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

// --- shell ---

// A word safe inside single quotes.
std::string sq(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out;
}

std::string ident(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

}  // namespace

std::string man_page(const CLI::App& app, const ManInfo& info) {
  auto cmds = tree(app);
  std::string out = fmt::format(
      ".\\\" Generated from {0}'s command-line definitions ({0} --generate man).\n"
      ".TH {1} {2} \"\" \"svc\" \"{3}\"\n"
      ".SH NAME\n{0} \\- {4}\n"
      ".SH SYNOPSIS\n",
      info.program, upper(info.program), info.section,
      info.section == 8 ? "System Administration" : "User Commands", roff(info.summary));
  out += "\\fB" + roff(info.program) + "\\fR";
  const Command& top = cmds.front();
  if (!top.options.empty()) out += " [\\fIOPTIONS\\fR]";
  if (!top.subcommands.empty()) out += " \\fICOMMAND\\fR [\\fIARGS\\fR]";
  out += "\n.SH DESCRIPTION\n" +
         roff_text(info.description.empty() ? app.get_description() : info.description);
  out += ".SH OPTIONS\n";
  for (const CLI::Option* o : top.options) out += roff_option(o);
  if (cmds.size() > 1) {
    out += ".SH COMMANDS\n";
    for (std::size_t i = 1; i < cmds.size(); ++i) {
      const Command& c = cmds[i];
      out += ".SS \"" + roff(usage(info.program, c)) + "\"\n";
      out += roff_text(c.app->get_description());
      for (const CLI::Option* p : c.positionals)
        if (!p->get_description().empty())
          out += ".TP\n\\fI" + roff(upper(p->get_name(true))) + "\\fR\n" +
                 roff_text(p->get_description());
      for (const CLI::Option* o : c.options)
        if (o->get_lnames() != std::vector<std::string>{"help"}) out += roff_option(o);
    }
  }
  if (!app.get_footer().empty()) {
    out += ".SH \"EXIT STATUS\"\n.nf\n" + roff_text(app.get_footer()) + ".fi\n";
  }
  if (!info.files.empty()) {
    out += ".SH FILES\n";
    std::istringstream in(info.files);
    for (std::string line; std::getline(in, line);) {
      auto tab = line.find('\t');
      out += ".TP\n\\fI" + roff(line.substr(0, tab)) + "\\fR\n" +
             roff_text(tab == std::string::npos ? "" : line.substr(tab + 1));
    }
  }
  if (!info.see_also.empty()) out += ".SH \"SEE ALSO\"\n" + roff_text(info.see_also);
  return out;
}

std::string bash_completion(const CLI::App& app, std::string_view program) {
  auto cmds = tree(app);
  std::string fn = "_" + ident(program);
  std::string out = fmt::format(
      "# bash completion for {0}. Generated from its command-line definitions\n"
      "# ({0} --generate bash-completion).\n"
      "{1}() {{\n"
      "  local cur=${{COMP_WORDS[COMP_CWORD]}} path= i w\n"
      "  # The command path so far: the words that name subcommands, options skipped.\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    w=${{COMP_WORDS[i]}}\n"
      "    case \"$w\" in -*) continue ;; esac\n"
      "    case \"$path/$w\" in\n",
      program, fn);
  // Only words that really are subcommands extend the path; values and positionals do not.
  for (std::size_t i = 1; i < cmds.size(); ++i) {
    std::string p = "/" + join(cmds[i].path, "/");
    out += fmt::format("      '{}') path='{}' ;;\n", sq(p), sq(p));
  }
  out += "    esac\n  done\n  local words=\n  case \"$path\" in\n";
  for (const Command& c : cmds) {
    std::vector<std::string> words;
    for (const CLI::App* s : c.subcommands) words.push_back(s->get_name());
    for (const CLI::Option* o : c.options)
      for (const auto& n : names(o)) words.push_back(n);
    std::string p = c.path.empty() ? "" : "/" + join(c.path, "/");
    out += fmt::format("    '{}') words='{}' ;;\n", sq(p), sq(join(words, " ")));
  }
  out += fmt::format(
      "  esac\n"
      "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      "  # Nothing to offer (a value, an id, a path): fall back to file names.\n"
      "  if [[ ${{#COMPREPLY[@]}} -eq 0 ]]; then COMPREPLY=($(compgen -f -- \"$cur\")); fi\n"
      "}}\n"
      "complete -F {} {}\n",
      fn, program);
  return out;
}

std::string zsh_completion(const CLI::App& app, std::string_view program) {
  auto cmds = tree(app);
  std::string base = "_" + ident(program);
  auto fn_name = [&](const Command& c) {
    return c.path.empty() ? base : base + "_" + ident(join(c.path, "_"));
  };
  auto spec = [](const CLI::Option* o) {
    auto ns = names(o);
    std::string desc = o->get_description();
    for (auto& ch : desc)
      if (ch == '[' || ch == ']' || ch == ':') ch = ' ';
    std::string value = takes_value(o) ? ":" + value_name(o) + ":_files" : "";
    if (ns.size() == 1) return fmt::format("'{}[{}]{}'", sq(ns[0]), sq(desc), sq(value));
    return fmt::format("'({0})'{{{1}}}'[{2}]{3}'", sq(join(ns, " ")), join(ns, ","), sq(desc),
                       sq(value));
  };
  std::string out = fmt::format(
      "#compdef {0}\n# zsh completion for {0}. Generated from its command-line definitions\n"
      "# ({0} --generate zsh-completion).\n",
      program);
  for (auto it = cmds.rbegin(); it != cmds.rend(); ++it) {
    const Command& c = *it;
    out += fmt::format("\n{}() {{\n", fn_name(c));
    out += "  local curcontext=$curcontext state line\n  typeset -A opt_args\n";
    out += "  _arguments -C";
    for (const CLI::Option* o : c.options) out += " \\\n    " + spec(o);
    if (!c.subcommands.empty()) {
      out += " \\\n    '1: :->cmds' \\\n    '*:: :->args'\n";
      out += "  case $state in\n    cmds)\n      local -a cmds\n      cmds=(\n";
      for (const CLI::App* s : c.subcommands) {
        std::string d = s->get_description();
        for (auto& ch : d)
          if (ch == ':') ch = ' ';
        out += fmt::format("        '{}:{}'\n", sq(s->get_name()), sq(d));
      }
      out += "      )\n      _describe command cmds ;;\n    args)\n      case $line[1] in\n";
      for (const CLI::App* s : c.subcommands) {
        Command sub;
        sub.path = c.path;
        sub.path.push_back(s->get_name());
        out += fmt::format("        '{}') {} ;;\n", sq(s->get_name()), fn_name(sub));
      }
      out += "      esac ;;\n  esac\n";
    } else {
      out += " \\\n    '*:argument:_files'\n";
    }
    out += "}\n";
  }
  out += fmt::format("\n{} \"$@\"\n", base);
  return out;
}

std::string markdown(const CLI::App& app, std::string_view program, std::string_view intro) {
  auto cmds = tree(app);
  std::string p(program);
  std::string out = fmt::format(
      "# {0}\n\n<!-- Generated by `{0} --generate markdown` from its command-line definitions; "
      "do not edit by hand. -->\n\n{1}\n",
      p, intro.empty() ? app.get_description() : std::string(intro));
  for (const Command& c : cmds) {
    out += fmt::format("\n## `{}`\n\n", usage(p, c));
    if (!c.path.empty() && !c.app->get_description().empty())
      out += c.app->get_description() + "\n\n";
    if (!c.subcommands.empty()) {
      out += "Commands:";
      for (const CLI::App* s : c.subcommands) out += fmt::format(" `{}`", s->get_name());
      out += "\n\n";
    }
    bool any = false;
    for (const CLI::Option* o : c.positionals) {
      if (!any) out += "| argument or option | meaning |\n| --- | --- |\n";
      any = true;
      out += fmt::format("| `{}` | {} |\n", positional_usage(o), o->get_description());
    }
    for (const CLI::Option* o : c.options) {
      if (!any) out += "| argument or option | meaning |\n| --- | --- |\n";
      any = true;
      std::string head = join(names(o), ", ");
      if (takes_value(o)) head += " " + value_name(o);
      std::string help = option_help(o);
      for (auto& ch : help)
        if (ch == '|') ch = '/';
      out += fmt::format("| `{}` | {} |\n", head, help);
    }
  }
  if (!app.get_footer().empty()) out += "\n```\n" + app.get_footer() + "\n```\n";
  return out;
}

bool generate(const CLI::App& app, const ManInfo& info, std::string_view what, std::string& out) {
  if (what == "man") {
    out = man_page(app, info);
  } else if (what == "bash-completion") {
    out = bash_completion(app, info.program);
  } else if (what == "zsh-completion") {
    out = zsh_completion(app, info.program);
  } else if (what == "markdown") {
    out = markdown(app, info.program, info.description);
  } else {
    return false;
  }
  return true;
}

}  // namespace svc::cli_reference
