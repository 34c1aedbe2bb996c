#include <catch2/catch.hpp>

#include "../result_maker.hpp"
#include "common/fs.hpp"
#include "isolation/seccomp/seccomp.hpp"

using namespace svc;
using namespace svc::isolation::seccomp;
namespace fs = std::filesystem;

namespace {

Profile small_profile() {
  Profile p;
  p.default_action = Action::kAllow;
  p.rules.push_back(Rule{{"mount", "umount2"}, Action::kErrno, 1, {}, "no mounts"});
  return p;
}

std::string bytes(const Program& p) {
  return {reinterpret_cast<const char*>(p.filter.data()), p.filter.size() * sizeof(sock_filter)};
}

}  // namespace

TEST_CASE("compiler: the default profile compiles to a BPF program within the kernel's limit",
          "[seccomp]") {
  Compiler c;
  auto prog = c.compile(default_profile());
  REQUIRE(prog);
  CHECK((*prog)->filter.size() > 50);
  CHECK((*prog)->filter.size() <= 4096);
  CHECK((*prog)->key == profile_key(default_profile()));
  CHECK((*prog)->key.size() == 64);
}

TEST_CASE("compiler: an equal profile is compiled once and shared", "[seccomp]") {
  Compiler c;
  auto a = c.compile(default_profile());
  REQUIRE(a);
  Profile copy = default_profile();
  for (auto& r : copy.rules) r.why = "comments do not change the program";
  auto b = c.compile(copy);
  REQUIRE(b);
  CHECK(a->get() == b->get());
  CHECK(c.stats().compilations == 1);
  CHECK(c.stats().memory_hits == 1);

  auto other = c.compile(small_profile());
  REQUIRE(other);
  CHECK(other->get() != a->get());
  CHECK(c.stats().compilations == 2);
}

TEST_CASE("compiler: the key follows what reaches the kernel", "[seccomp]") {
  Profile p = small_profile();
  const std::string k = profile_key(p);
  Profile errno_changed = p;
  errno_changed.rules[0].errno_value = 13;
  CHECK(profile_key(errno_changed) != k);
  Profile arch_explicit = p;
  arch_explicit.architectures = native_architectures();
  CHECK(profile_key(arch_explicit) == k);  // empty means exactly these
  std::reverse(arch_explicit.architectures.begin(), arch_explicit.architectures.end());
  CHECK(profile_key(arch_explicit) == k);  // order of architectures is irrelevant
  Profile with_arg = p;
  with_arg.rules[0].args.push_back({1, ArgCondition::Op::kEq, 0, 0});
  CHECK(profile_key(with_arg) != k);
}

TEST_CASE("compiler: a new compiler reuses the disk cache instead of compiling", "[seccomp]") {
  TempDir dir;
  const fs::path cache = dir.path() / "seccomp";
  std::string first_bytes;
  {
    Compiler c(cache);
    auto prog = c.compile(default_profile());
    REQUIRE(prog);
    first_bytes = bytes(**prog);
    CHECK(c.stats().compilations == 1);
    CHECK(fs::exists(cache / ((*prog)->key + ".bpf")));
  }
  Compiler again(cache);
  auto prog = again.compile(default_profile());
  REQUIRE(prog);
  CHECK(again.stats().compilations == 0);
  CHECK(again.stats().disk_hits == 1);
  CHECK(bytes(**prog) == first_bytes);
}

TEST_CASE("compiler: a damaged cache file is recompiled and replaced", "[seccomp]") {
  TempDir dir;
  Profile p = small_profile();
  const fs::path file = dir.path() / (profile_key(p) + ".bpf");
  std::string good;
  {
    Compiler c(dir.path());
    REQUIRE(c.compile(p));
    good = *read_file(file);
  }
  std::string bad = good;
  bad[bad.size() - 3] ^= 0x40;  // flip a bit in the program: the digest no longer matches
  REQUIRE(write_file_atomic(file, bad));
  Compiler c(dir.path());
  auto prog = c.compile(p);
  REQUIRE(prog);
  CHECK(c.stats().disk_hits == 0);
  CHECK(c.stats().compilations == 1);
  CHECK(*read_file(file) == good);
}

TEST_CASE("compiler: an unwritable cache is reported, not fatal", "[seccomp]") {
  TempDir dir;
  REQUIRE(write_file_atomic(dir.path() / "file", "x"));
  Compiler c(dir.path() / "file" / "sub");  // below a regular file: cannot be created
  auto prog = c.compile(small_profile());
  REQUIRE(prog);
  CHECK(c.stats().cache_write_errors == 1);
}

TEST_CASE("compiler: unknown syscall names are skipped - bad rules are errors", "[seccomp]") {
  Compiler c;
  Profile p = small_profile();
  p.rules.push_back(Rule{{"no_such_syscall_anywhere"}, Action::kErrno, 1, {}, ""});
  auto skipped = c.compile(p);
  REQUIRE(skipped);

  Profile bad_arg;
  bad_arg.default_action = Action::kErrno;
  bad_arg.rules.push_back(
      Rule{{"getpid"}, Action::kAllow, 1, {{7, ArgCondition::Op::kEq, 0, 0}}, ""});
  auto r = c.compile(bad_arg);
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message(), Catch::Contains("getpid"));

  Profile bad_arch;
  bad_arch.architectures = {"SCMP_ARCH_NOPE"};
  CHECK(c.compile(bad_arch).error().code() == Code::kInvalidArgument);
}

TEST_CASE("compiler: several conditions on one argument compile (any of them may hold)",
          "[seccomp]") {
  // What runc and crun accept from Docker-style profiles; libseccomp alone refuses it (EINVAL).
  auto p = parse_oci_profile(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]}]})");
  REQUIRE(p);
  REQUIRE(p->rules.at(0).args.size() == 3);
  Compiler c;
  auto prog = c.compile(*p);
  INFO((prog ? std::string() : prog.error().message()));
  REQUIRE(prog);
  // Conditions on different arguments still all have to hold (one rule).
  auto both = parse_oci_profile(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
       "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]}]})");
  REQUIRE(both);
  CHECK(c.compile(*both));
}

TEST_CASE("load refuses an empty program without a syscall", "[seccomp]") {
  Program empty;
  CHECK(load(empty) == -EINVAL);
  Program huge;
  huge.filter.resize(5000);
  CHECK(load(huge) == -EINVAL);
}
