// svc-runtime, the OCI command line, driven as runc would be (root; busybox-static bundle).
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sstream>
#include <thread>

#include "tests/integration/isolation/oci_bundle.hpp"

using namespace svc;
using namespace std::chrono_literals;
using svc::test::oci::Bundle;
using svc::test::oci::prepare;
using svc::test::oci::state_of;
namespace fs = std::filesystem;
using nlohmann::json;

TEST_CASE("svc-runtime run executes a busybox bundle and returns its exit code", "[oci]") {
  Bundle b;
  if (!prepare(b)) return;
  b.configure(
      {"sh", "-c",
       "echo hello from $(id -u); if mount -t tmpfs x /tmp; then echo mounted; fi; exit 3"});
  std::string id = "oci-run-" + std::to_string(::getpid());
  auto r = b.rt({"run", "--bundle", b.dir.path().string(), id});
  INFO(r.err);
  CHECK(r.exit_code == 3);
  CHECK(r.out == "hello from 0\n");
  // run removes the container afterwards.
  CHECK(b.rt({"state", id}).exit_code != 0);
}

TEST_CASE("svc-runtime follows the OCI lifecycle: create, state, start, kill, delete", "[oci]") {
  Bundle b;
  if (!prepare(b)) return;
  b.configure({"sleep", "60"});
  std::string id = "oci-life-" + std::to_string(::getpid());
  fs::path pid_file = b.dir.path() / "pid";
  auto created = b.rt_detached(
      {"create", "--bundle", b.dir.path().string(), "--pid-file", pid_file.string(), id});
  INFO(created.err);
  REQUIRE(created.exit_code == 0);
  json s = state_of(b, id);
  CHECK(s["status"] == "created");
  CHECK(s["id"] == id);
  CHECK(s["ociVersion"].get<std::string>().starts_with("1."));
  CHECK(s["bundle"] == fs::canonical(b.dir.path()).string());
  auto pid = read_file(pid_file);
  REQUIRE(pid);
  CHECK(s["pid"].get<int>() == std::stoi(*pid));
  // The container outlives the svc-runtime process that created it.
  CHECK(::kill(s["pid"].get<int>(), 0) == 0);
  REQUIRE(b.rt({"start", id}).exit_code == 0);
  CHECK(state_of(b, id)["status"] == "running");
  CHECK(b.rt({"start", id}).exit_code != 0);   // only a created container starts
  CHECK(b.rt({"delete", id}).exit_code != 0);  // running: refused without --force
  REQUIRE(b.rt({"kill", id, "KILL"}).exit_code == 0);
  REQUIRE(test::wait_for([&] { return state_of(b, id)["status"] == "stopped"; }, 10s));
  CHECK(state_of(b, id)["pid"] == 0);
  REQUIRE(b.rt({"delete", id}).exit_code == 0);
  CHECK(b.rt({"state", id}).exit_code != 0);
  CHECK(b.rt({"delete", "--force", id}).exit_code == 0);  // force: absent is fine
}

TEST_CASE("svc-runtime refuses what it does not do, and says so", "[oci]") {
  Bundle b;
  if (!prepare(b)) return;
  auto text = read_file(b.dir.path() / "config.json");
  REQUIRE(text);
  json c = json::parse(*text);
  c["process"]["terminal"] = true;
  REQUIRE(write_file_atomic(b.dir.path() / "config.json", c.dump()));
  auto r =
      b.rt({"create", "--bundle", b.dir.path().string(), "oci-tty-" + std::to_string(::getpid())});
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("terminal") != std::string::npos);
  auto f = test::run({test::svc_runtime_path(), "features"});
  REQUIRE(f.exit_code == 0);
  json features = json::parse(f.out);
  CHECK(features["linux"]["mountExtensions"]["idmap"]["enabled"] == true);
  CHECK(b.rt({"state", "no-such-container"}).exit_code != 0);
}
