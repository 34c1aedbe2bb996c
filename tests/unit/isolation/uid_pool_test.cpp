#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "isolation/uid_pool.hpp"

using namespace svc;
using namespace svc::isolation;

namespace {
UidPool::Options opts(const TempDir& d, std::uint32_t count = 4) {
  UidPool::Options o;
  o.file = d.path() / "ranges";
  o.base = 1'000'000'000u;
  o.count = count;
  return o;
}
}  // namespace

TEST_CASE("each owner gets its own range, the same one on every call", "[uid_pool]") {
  TempDir d;
  UidPool pool(opts(d));
  auto a = pool.allocate("/state/a");
  auto b = pool.allocate("/state/b");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->host_base == 1'000'000'000u);
  CHECK(b->host_base == 1'000'065'536u);
  CHECK(a->size == 65536);
  CHECK(*pool.allocate("/state/a") == *a);
  auto found = pool.find("/state/b");
  REQUIRE(found);
  CHECK(found->value() == *b);
}

TEST_CASE("ranges survive a new pool object (a restarted daemon)", "[uid_pool]") {
  TempDir d;
  IdRange a;
  {
    UidPool pool(opts(d));
    REQUIRE(pool.allocate("/state/a"));
    a = *pool.allocate("/state/b");
  }
  UidPool again(opts(d));
  CHECK(*again.find("/state/b") == a);
  CHECK(again.allocate("/state/c")->host_base == 1'000'131'072u);
}

TEST_CASE("released ranges are reused lowest first - a full pool says so", "[uid_pool]") {
  TempDir d;
  UidPool pool(opts(d, 2));
  REQUIRE(pool.allocate("a"));
  REQUIRE(pool.allocate("b"));
  auto full = pool.allocate("c");
  REQUIRE_FALSE(full);
  CHECK(full.error().code() == Code::kResourceExhausted);
  REQUIRE(pool.release("a"));
  REQUIRE(pool.release("a"));  // idempotent
  CHECK(pool.allocate("c")->host_base == 1'000'000'000u);
  CHECK_FALSE(pool.find("a")->has_value());
}

TEST_CASE("a pool that would pass 2^32 or a bad owner is refused", "[uid_pool]") {
  TempDir d;
  auto o = opts(d);
  o.base = 4'000'000'000u;
  o.count = 10'000;
  CHECK(UidPool(o).allocate("x").error().code() == Code::kInvalidArgument);
  UidPool pool(opts(d));
  CHECK_FALSE(pool.allocate(""));
  CHECK_FALSE(pool.allocate("two\nlines"));
}
