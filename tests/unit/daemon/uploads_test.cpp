// The store of archives sent over the API: chunks in order, a retried chunk refused, idle
// uploads dropped, at most max_open at once, leftovers of a previous svcd removed.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/uploads.hpp"

using namespace svc;
using namespace svc::daemon;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct Fixture {
  TempDir dir;
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  std::unique_ptr<UploadStore> store;
  explicit Fixture(std::size_t max_open = 8) {
    UploadStore::Options o;
    o.dir = dir.path() / "uploads";
    o.max_open = max_open;
    o.idle_expiry = 10min;
    o.now = [this] { return now; };
    store = UploadStore::open(std::move(o)).value();
  }
};

}  // namespace

TEST_CASE("uploads: chunks in order make the file, taken once, removed after", "[uploads]") {
  Fixture f;
  struct stat st {};
  REQUIRE(::stat((f.dir.path() / "uploads").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);

  std::string id = f.store->create().value();
  CHECK(id.size() == 32);
  CHECK(f.store->append(id, 0, "hello ").value() == 6);
  CHECK(f.store->append(id, 6, "world").value() == 11);
  // A retried chunk (its answer was lost) is refused with the size to go on from.
  auto again = f.store->append(id, 6, "world");
  REQUIRE_FALSE(again);
  CHECK(again.error().code() == Code::kFailedPrecondition);
  CHECK_THAT(again.error().message(), Catch::Contains("11 bytes"));
  CHECK(f.store->append("nope", 0, "x").error().code() == Code::kNotFound);

  fs::path path;
  {
    auto taken = f.store->take(id).value();
    path = taken->path();
    CHECK(read_file(path).value() == "hello world");
    CHECK(f.store->take(id).error().code() == Code::kNotFound);  // taken once
    CHECK(f.store->append(id, 11, "!").error().code() == Code::kNotFound);
  }
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("uploads: idle ones are dropped, and only so many at once", "[uploads]") {
  Fixture f(2);
  std::string a = f.store->create().value();
  std::string b = f.store->create().value();
  auto third = f.store->create();
  REQUIRE_FALSE(third);
  CHECK(third.error().code() == Code::kResourceExhausted);

  f.now += 6min;
  REQUIRE(f.store->append(a, 0, "still here"));  // a is used, b is not
  f.now += 6min;
  CHECK(f.store->open_count() == 1);
  CHECK(f.store->append(b, 0, "late").error().code() == Code::kNotFound);
  CHECK(f.store->create());  // b's slot is free again
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(f.dir.path() / "uploads")) ++files;
  CHECK(files == 2);  // a and the new one: b's file is gone
}

TEST_CASE("uploads left by a previous svcd are removed at start", "[uploads]") {
  TempDir dir;
  fs::create_directories(dir.path() / "uploads");
  REQUIRE(write_file_atomic(dir.path() / "uploads" / "0123.part", "half an archive"));
  UploadStore::Options o;
  o.dir = dir.path() / "uploads";
  auto store = UploadStore::open(std::move(o)).value();
  CHECK(fs::is_empty(dir.path() / "uploads"));
  CHECK(store->open_count() == 0);
}
