// A cgroup tree one svcd claims and removes, on a fake cgroupfs (plain directories).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "isolation/cgroups/cgroup_tree.hpp"

using namespace svc;
using namespace svc::isolation;
namespace fs = std::filesystem;

namespace {

std::vector<CgroupMount> mounts(const fs::path& root) {
  fs::create_directories(root / "pids");
  fs::create_directories(root / "memory");
  fs::create_directories(root / "unified");
  return {{root / "memory", false, false, "memory"},
          {root / "pids", false, false, "pids"},
          {root / "unified", true, false, ""}};
}

}  // namespace

TEST_CASE("a cgroup tree is claimed by one process at a time", "[cgroups][tree]") {
  TempDir t;
  auto m = mounts(t.path());
  CHECK(cgroup_tree_anchor(m, "svc-a") == t.path() / "pids" / "svc-a");
  auto claim = claim_cgroup_tree(m, "svc-a", t.path() / "no-proc");
  REQUIRE(claim);
  CHECK(fs::is_directory(t.path() / "pids" / "svc-a"));
  // A second claim (another open file description, as another svcd has) is refused and says
  // what to do.
  auto again = claim_cgroup_tree(m, "svc-a", t.path() / "no-proc");
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == Code::kAlreadyExists);
  CHECK(again.error().message().find("in use by another svcd") != std::string::npos);
  CHECK(again.error().message().find("cgroup_base") != std::string::npos);
  // Another name is another tree.
  CHECK(claim_cgroup_tree(m, "svc-b", t.path() / "no-proc"));
  claim->reset();  // the holder went away (as when svcd exits or is killed)
  CHECK(claim_cgroup_tree(m, "svc-a", t.path() / "no-proc"));
  // Only v2: the unified mount holds the anchor.
  std::vector<CgroupMount> v2 = {{t.path() / "unified", true, false, ""}};
  CHECK(cgroup_tree_anchor(v2, "svc") == t.path() / "unified" / "svc");
}

TEST_CASE("removing a tree takes every empty cgroup, deepest first, and keeps busy ones",
          "[cgroups][tree]") {
  TempDir t;
  auto m = mounts(t.path());
  for (const char* h : {"memory", "pids"}) {
    fs::create_directories(t.path() / h / "svc" / "sandboxes" / "done");
    fs::create_directories(t.path() / h / "svc" / "sandboxes" / "runs");
  }
  // A busy cgroup: a directory rmdir refuses (here: one with a file in it).
  std::ofstream(t.path() / "pids" / "svc" / "sandboxes" / "runs" / "cgroup.procs") << "42\n";
  auto left = remove_cgroup_tree(m, "svc");
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<fs::path>{t.path() / "pids" / "svc",
                                      t.path() / "pids" / "svc" / "sandboxes",
                                      t.path() / "pids" / "svc" / "sandboxes" / "runs"});
  CHECK_FALSE(fs::exists(t.path() / "memory" / "svc"));
  CHECK_FALSE(fs::exists(t.path() / "pids" / "svc" / "sandboxes" / "done"));
  // Nothing there: nothing to do; a name that is not one is refused quietly.
  CHECK(remove_cgroup_tree(m, "other").empty());
  CHECK(remove_cgroup_tree(m, "../pids").empty());
  CHECK(fs::exists(t.path() / "pids"));
}
