// svctl's command tree as a user meets it: bare svctl, a mistyped command and its suggestion,
// the commands of features not built yet, and the exit code of a stopped task. No daemon: the
// tree is the real one (cli/app.cpp) and nothing here connects.
#include <iostream>
#include <sstream>

#include <catch2/catch.hpp>

#include "cli/app.hpp"
#include "cli/suggest.hpp"
#include "cli/task_format.hpp"

namespace svc::cli {
int& exit_code_slot();
}

using namespace svc;
using namespace svc::cli;

namespace {

struct Tree {
  Globals globals;
  Context ctx{globals};
  CLI::App app{"svctl"};
  Tree() {
    globals.host = "unix:///nonexistent/svcd.sock";
    build_app(app, globals, ctx);
  }
  CommandWords words(std::vector<std::string> args) { return check_command_words(app, args); }
};

// Captures what a block writes to std::cerr.
struct CaptureStderr {
  std::ostringstream text;
  std::streambuf* old;
  CaptureStderr() : old(std::cerr.rdbuf(text.rdbuf())) {}
  ~CaptureStderr() { std::cerr.rdbuf(old); }
};

}  // namespace

TEST_CASE("edit distance counts a swap of neighbours as one edit", "[cli][suggest]") {
  CHECK(edit_distance("rnu", "run") == 1);
  CHECK(edit_distance("run", "run") == 0);
  CHECK(edit_distance("", "ps") == 2);
  CHECK(edit_distance("stpo", "stop") == 1);
  CHECK(edit_distance("imgaes", "images") == 1);
  CHECK(edit_distance("kitten", "sitting") == 3);
}

TEST_CASE("nearest names: close ones and those the word begins, nearest first", "[cli][suggest]") {
  std::vector<std::string> names = {"run", "rm", "ps", "stop", "inspect", "images", "image"};
  CHECK(nearest_names("rnu", names) == std::vector<std::string>{"run", "rm"});
  CHECK(nearest_names("insp", names) == std::vector<std::string>{"inspect"});
  CHECK(nearest_names("imgae", names).front() == "image");
  // Nothing close: no suggestion rather than a random one.
  CHECK(nearest_names("frobnicate", names).empty());
  // A one-letter word is not "close" to every two-letter name.
  CHECK(nearest_names("x", names).empty());
}

TEST_CASE("a mistyped command is named, with the nearest commands", "[cli][suggest]") {
  Tree t;
  auto w = t.words({"rnu", "busybox"});
  REQUIRE(w.error);
  CHECK(w.error->find("unknown command \"rnu\"") != std::string::npos);
  CHECK(w.error->find("did you mean \"run\"") != std::string::npos);
  CHECK(w.error->find("svctl --help") != std::string::npos);

  // Under a command with subcommands, the level is named too.
  auto sub = t.words({"--host", "unix:///x", "image", "prnue"});
  REQUIRE(sub.error);
  CHECK(sub.error->find("for svctl image") != std::string::npos);
  CHECK(sub.error->find("\"prune\"") != std::string::npos);
  CHECK(sub.error->find("svctl image --help") != std::string::npos);
}

TEST_CASE("command words: option values and positionals are not taken for commands",
          "[cli][suggest]") {
  Tree t;
  auto bare = t.words({});
  CHECK_FALSE(bare.any);
  CHECK_FALSE(bare.error);
  auto only_opts = t.words({"-H", "unix:///tmp/x.sock", "-o", "json"});
  CHECK_FALSE(only_opts.any);
  CHECK_FALSE(only_opts.error);
  // --name's value and the image are not command words; nor is anything after --.
  auto run = t.words({"run", "--name", "rnu", "busybox", "--", "sh", "-c", "exit 3"});
  CHECK(run.any);
  CHECK_FALSE(run.error);
  auto help = t.words({"--help"});
  CHECK(help.help);
  auto nested = t.words({"-o", "json", "token", "ls"});
  CHECK(nested.any);
  CHECK_FALSE(nested.error);
}

TEST_CASE("bare svctl parses (global options still checked) and has a help to print",
          "[cli][help]") {
  Tree t;
  const char* argv[] = {"svctl"};
  REQUIRE_NOTHROW(t.app.parse(1, const_cast<char**>(argv)));
  std::string help = t.app.help();
  CHECK(help.find("run") != std::string::npos);
  CHECK(help.find("Exit codes") != std::string::npos);
  Tree bad;
  const char* bad_argv[] = {"svctl", "-o", "yaml"};
  CHECK_THROWS_AS(bad.app.parse(3, const_cast<char**>(bad_argv)), CLI::ValidationError);
}

TEST_CASE("every command DESIGN.md promises exists, and those not built say so", "[cli][help]") {
  Tree t;
  for (const char* name :
       {"run",     "ps",     "logs",     "stop", "rm",     "inspect", "wait",   "events",
        "pull",    "images", "image",    "node", "token",  "version", "deploy", "services",
        "service", "usage",  "schedule", "exec", "attach", "trigger"}) {
    INFO(name);
    CHECK(t.app.get_subcommands([&](const CLI::App* s) { return s->get_name() == name; }).size() ==
          1);
  }
  CHECK(t.app.get_subcommand("trigger")->get_group() == "Not built in this version");
  CHECK(t.app.get_subcommand("schedule")->get_group() != "Not built in this version");
  CHECK(t.app.get_subcommand("usage")->get_group() != "Not built in this version");
  CHECK(t.app.get_subcommand("deploy")->get_group() != "Not built in this version");
  CHECK(t.app.get_subcommand("run")->get_group() != "Not built in this version");
  CHECK(t.app.help().find("Not built in this version") != std::string::npos);
}

TEST_CASE("a command of a feature not built yet says so, with its flags, and fails",
          "[cli][help]") {
  Tree t;
  CaptureStderr err;
  const char* argv[] = {"svctl", "trigger", "--type", "x"};
  exit_code_slot() = kExitOk;
  REQUIRE_NOTHROW(t.app.parse(4, const_cast<char**>(argv)));
  CHECK(exit_code_slot() == kExitFailed);
  CHECK(err.text.str().find("svctl trigger: this version of svc") != std::string::npos);
  CHECK(err.text.str().find("does not have triggers yet") != std::string::npos);
}

TEST_CASE("stop waits by default, and --no-wait is there to return at once", "[cli][tasks]") {
  Tree t;
  auto* stop = t.app.get_subcommand("stop");
  CHECK(stop->get_option_no_throw("--no-wait") != nullptr);
}

TEST_CASE("exit code of a stopped task: its own, 124 for a timeout, 125 when it never ran",
          "[cli][tasks]") {
  v1::Task t;
  t.set_name("job");
  t.set_stop_reason("Exited");
  t.set_exit_code(3);
  std::string why;
  CHECK(task_exit_code(t, &why) == 3);
  CHECK(why.empty());

  // --timeout: SIGTERM (143) or SIGKILL (137) ended it; timeout(1) exits 124 either way.
  t.set_stop_reason("TimedOut");
  t.set_stop_message("stopped after its 1s timeout");
  t.set_exit_code(137);
  CHECK(task_exit_code(t, &why) == kExitTimedOut);
  CHECK(why.find("TimedOut") != std::string::npos);
  CHECK(why.find("job") != std::string::npos);

  why.clear();
  t.set_stop_reason("OOMKilled");
  CHECK(task_exit_code(t, &why) == 137);
  CHECK(why.find("OOMKilled") != std::string::npos);

  t.set_stop_reason("StartFailed");
  t.set_exit_code(127);
  CHECK(task_exit_code(t) == 127);

  v1::Task never;
  never.set_stop_reason("ImagePullFailed");
  CHECK(task_exit_code(never) == kExitRunFailed);
  // A task stopped by its timeout before it ever ran has no exit code, and still is a timeout.
  never.set_stop_reason("TimedOut");
  CHECK(task_exit_code(never) == kExitTimedOut);
}

TEST_CASE("schedule create takes run's task flags and checks its own", "[cli][schedules]") {
  Tree t;
  auto* create = t.app.get_subcommand("schedule")->get_subcommand("create");
  for (const char* flag : {"--cron", "--timezone", "--overlap", "--starting-deadline", "--cpu",
                           "--memory", "--env", "--label", "--rm", "--queue", "--init"}) {
    INFO(flag);
    CHECK(create->get_option_no_throw(flag) != nullptr);
  }
  for (const char* verb : {"ls", "describe", "rm", "pause", "resume", "run-now"}) {
    INFO(verb);
    CHECK(t.app.get_subcommand("schedule")->get_subcommand(verb) != nullptr);
  }
  Tree no_cron;
  const char* a1[] = {"svctl", "schedule", "create", "nightly", "busybox"};
  CHECK_THROWS_AS(no_cron.app.parse(5, const_cast<char**>(a1)), CLI::RequiredError);
  Tree bad_overlap;
  const char* a2[] = {"svctl",  "schedule",  "create",    "nightly", "--cron",
                      "@daily", "--overlap", "sometimes", "busybox"};
  CHECK_THROWS_AS(bad_overlap.app.parse(9, const_cast<char**>(a2)), CLI::ValidationError);
}
