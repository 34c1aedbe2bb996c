// The exec plan (what a process exec'd into a sandbox gets), the recorded defaults it starts
// from, and the attach frames the shim and its clients speak: pure functions and files in a
// temp dir, no root.
#include <sched.h>

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "isolation/exec_defaults.hpp"
#include "isolation/exec_plan.hpp"
#include "isolation/shim/protocol.hpp"

using namespace svc;
using namespace svc::isolation;

namespace {

ExecDefaults task_defaults() {
  ExecDefaults d;
  d.env = {"PATH=/usr/bin:/bin", "HOME=/root", "LANG=C"};
  d.cwd = "/srv";
  d.uid = 1000;
  d.gid = 1000;
  d.groups = {1000, 27};
  d.caps = default_capabilities();
  d.rlimits = {{7, 1024, 1024}};
  d.no_new_privs = true;
  d.seccomp = true;
  d.layers = {"/var/lib/svcd/snapshots/a", "/var/lib/svcd/snapshots/b"};
  return d;
}

}  // namespace

TEST_CASE("an exec gets the task's credentials, environment and limits by default", "[exec]") {
  ExecSpec s;
  s.args = {"sh", "-c", "id"};
  auto p = plan_exec(s, task_defaults(), std::nullopt, CLONE_NEWUSER | CLONE_NEWNS);
  REQUIRE(p);
  CHECK(p->argv == s.args);
  CHECK(p->env == task_defaults().env);
  CHECK(p->path == "/usr/bin:/bin");
  CHECK(p->cwd == "/srv");
  CHECK(p->uid == 1000);
  CHECK(p->gid == 1000);
  CHECK(p->groups == std::vector<std::uint32_t>{1000, 27});
  CHECK(p->caps == default_capabilities());
  CHECK(p->rlimits.size() == 1);
  CHECK(p->no_new_privs);
  CHECK(p->setns_flags == (CLONE_NEWUSER | CLONE_NEWNS));
}

TEST_CASE("an exec's own env, workdir and user override the task's", "[exec]") {
  ExecSpec s;
  s.args = {"env"};
  s.env = {"LANG=fr_FR.UTF-8", "EXTRA=1", "PATH=/opt/bin"};
  s.cwd = "/tmp";
  auto p = plan_exec(s, task_defaults(), ResolvedUser{33, 33, {}}, 0);
  REQUIRE(p);
  CHECK(p->env ==
        std::vector<std::string>{"PATH=/opt/bin", "HOME=/root", "LANG=fr_FR.UTF-8", "EXTRA=1"});
  CHECK(p->path == "/opt/bin");
  CHECK(p->cwd == "/tmp");
  CHECK(p->uid == 33);
  CHECK(p->groups.empty());
}

TEST_CASE("an exec never gets a capability outside the task's bounding set", "[exec]") {
  ExecSpec s;
  s.args = {"true"};
  CapabilitySets all;
  all.bounding = all.effective = all.permitted = all.inheritable = all.ambient = ~0ull;
  s.capabilities = all;
  s.no_new_privs = false;  // cannot be turned off when the task has it
  auto p = plan_exec(s, task_defaults(), std::nullopt, 0);
  REQUIRE(p);
  std::uint64_t bound = default_capabilities().bounding;
  CHECK(p->caps.bounding == bound);
  CHECK(p->caps.effective == bound);
  CHECK(p->caps.permitted == bound);
  CHECK(p->caps.ambient == bound);
  CHECK(p->no_new_privs);
  ExecDefaults lax = task_defaults();
  lax.no_new_privs = false;
  auto q = plan_exec(s, lax, std::nullopt, 0);
  REQUIRE(q);
  CHECK_FALSE(q->no_new_privs);
}

TEST_CASE("bad exec requests are refused naming the field", "[exec]") {
  ExecSpec empty;
  auto e = plan_exec(empty, task_defaults(), std::nullopt, 0);
  REQUIRE_FALSE(e);
  CHECK(e.error().code() == Code::kInvalidArgument);
  CHECK(e.error().message().starts_with("args:"));
  ExecSpec bad_env;
  bad_env.args = {"true"};
  bad_env.env = {"NOEQUALS"};
  CHECK(plan_exec(bad_env, task_defaults(), std::nullopt, 0).error().message().starts_with("env:"));
  ExecSpec rel;
  rel.args = {"true"};
  rel.cwd = "relative";
  CHECK(plan_exec(rel, task_defaults(), std::nullopt, 0).error().message().starts_with("workdir:"));
  ExecSpec proc;
  proc.args = {"true"};
  proc.cwd = "/proc/1/cwd";
  CHECK_FALSE(plan_exec(proc, task_defaults(), std::nullopt, 0));
  ExecSpec nul;
  nul.args = {std::string("a\0b", 3)};
  CHECK_FALSE(plan_exec(nul, task_defaults(), std::nullopt, 0));
}

TEST_CASE("only the namespaces that differ from the caller's are joined", "[exec]") {
  NamespaceFacts f;
  for (int i = 0; i < 7; ++i) f.self[i] = f.task[i] = {4, 4026531835ull + static_cast<unsigned>(i)};
  CHECK(namespaces_to_join(f) == 0);
  f.task[0].ino = 1;  // user
  f.task[4].ino = 2;  // net
  f.task[6].ino = 3;  // pid
  CHECK(namespaces_to_join(f) == (CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID));
}

TEST_CASE("exec defaults and the seccomp filter survive the round trip to disk", "[exec]") {
  TempDir dir("svc-exec-");
  ExecDefaults d = task_defaults();
  seccomp::Program program;
  program.filter = {{0x20, 0, 0, 4}, {0x15, 0, 1, 0xc000003e}, {0x06, 0, 0, 0x7fff0000}};
  REQUIRE(write_exec_defaults(dir.path(), d, &program));
  auto back = read_exec_defaults(dir.path());
  REQUIRE(back);
  CHECK(*back == d);
  auto filter = read_exec_seccomp(dir.path());
  REQUIRE(filter);
  REQUIRE((*filter)->filter.size() == 3);
  CHECK((*filter)->filter[1].k == 0xc000003eu);
  // A damaged file is refused, never loaded.
  REQUIRE(write_file_atomic(dir.path() / kSeccompFile, "svcbpf1\n\x05"));
  CHECK(read_exec_seccomp(dir.path()).error().code() == Code::kDataLoss);
  CHECK(parse_exec_defaults("{}").error().code() == Code::kDataLoss);
  TempDir none("svc-exec-");
  CHECK(read_exec_defaults(none.path()).error().code() == Code::kNotFound);
}

TEST_CASE("attach frames: header layout and what a client may send", "[shim]") {
  unsigned char h[shim::kFrameHeader];
  shim::put_frame_header(h, shim::kFrameStdout, 0x01020304);
  CHECK(h[0] == shim::kFrameStdout);
  CHECK(h[1] == 1);
  CHECK(h[4] == 4);
  CHECK(shim::frame_length(h) == 0x01020304u);
  CHECK(shim::valid_client_frame(shim::kFrameStdin, 0));
  CHECK(shim::valid_client_frame(shim::kFrameStdin, shim::kMaxFramePayload));
  CHECK_FALSE(shim::valid_client_frame(shim::kFrameStdin, shim::kMaxFramePayload + 1));
  CHECK(shim::valid_client_frame(shim::kFrameCloseStdin, 0));
  CHECK_FALSE(shim::valid_client_frame(shim::kFrameCloseStdin, 1));
  CHECK(shim::valid_client_frame(shim::kFrameResize, 4));
  CHECK_FALSE(shim::valid_client_frame(shim::kFrameResize, 3));
  CHECK_FALSE(shim::valid_client_frame(shim::kFrameStdout, 1));  // output is the shim's
  CHECK_FALSE(shim::valid_client_frame(shim::kFrameExit, 1));
}
