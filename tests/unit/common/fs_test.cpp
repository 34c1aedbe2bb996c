#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/fs.hpp"

using namespace svc;
namespace fs = std::filesystem;

TEST_CASE("atomic writes replace the file whole and leave no temp files", "[fs]") {
  TempDir dir;
  fs::path p = dir.path() / "state.json";
  REQUIRE(write_file_atomic(p, "one", 0600));
  CHECK(read_file(p).value() == "one");
  REQUIRE(write_file_atomic(p, "two, longer", 0640));
  CHECK(read_file(p).value() == "two, longer");
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  int entries = 0;
  for (auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
}

TEST_CASE("atomic write into a missing directory fails and says where", "[fs]") {
  TempDir dir;
  auto r = write_file_atomic(dir.path() / "missing" / "f", "x");
  REQUIRE_FALSE(r);
  CHECK(r.error().code() == Code::kNotFound);
  CHECK(r.error().message().find("missing") != std::string::npos);
}

TEST_CASE("write_file_atomic without a flush still replaces the file whole", "[fs]") {
  TempDir dir;
  fs::path p = dir.path() / "state.json";
  REQUIRE(write_file_atomic(p, "first", 0600, Flush::kNone));
  REQUIRE(write_file_atomic(p, "second", 0600, Flush::kNone));
  CHECK(read_file(p).value() == "second");
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0600);
  int entries = 0;  // no temp file left behind
  for (auto& e : fs::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
  auto r = write_file_atomic(dir.path() / "missing" / "f", "x", 0644, Flush::kNone);
  REQUIRE_FALSE(r);
  CHECK(r.error().message().find("missing") != std::string::npos);
}

TEST_CASE("read_file enforces its limit", "[fs]") {
  TempDir dir;
  REQUIRE(write_file_atomic(dir.path() / "big", std::string(1000, 'x')));
  CHECK(read_file(dir.path() / "big", 999).error().code() == Code::kResourceExhausted);
  CHECK(read_file(dir.path() / "nope").error().code() == Code::kNotFound);
}

TEST_CASE("make_dirs creates parents and refuses files in the way", "[fs]") {
  TempDir dir;
  REQUIRE(make_dirs(dir.path() / "a/b/c"));
  CHECK(fs::is_directory(dir.path() / "a/b/c"));
  REQUIRE(make_dirs(dir.path() / "a/b/c"));  // again: fine
  REQUIRE(write_file_atomic(dir.path() / "file", "x"));
  CHECK(make_dirs(dir.path() / "file/sub").error().code() == Code::kFailedPrecondition);
}
