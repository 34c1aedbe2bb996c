// The shim's log writer and the library's reader agree on the CRI format, rotation and follow.
#include <fcntl.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include "common/fd.hpp"
#include "common/fs.hpp"
#include "isolation/log_reader.hpp"
#include "isolation/shim/log_writer.hpp"

using namespace svc;
using namespace svc::isolation;

namespace {

struct Writer {
  TempDir dir;
  UniqueFd dirfd;
  std::unique_ptr<shim::LogWriter> w = std::make_unique<shim::LogWriter>();
  explicit Writer(unsigned long long cap = 0)
      : dirfd(::open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {
    REQUIRE(w->open(dirfd.get(), cap) == 0);
  }
  void feed(int stream, std::string_view text, long sec = 1'700'000'000, long nsec = 5) {
    struct timespec ts = {sec, nsec};
    w->feed(stream, text.data(), text.size(), ts);
    w->flush();
  }
};

}  // namespace

TEST_CASE("lines become CRI records and read back with time, stream and text", "[logs]") {
  Writer w;
  w.feed(0, "hello\nwor", 1'700'000'000, 123'456'789);
  w.feed(1, "oops\n");
  w.feed(0, "ld\n");
  auto raw = read_file(w.dir.path() / "log");
  REQUIRE(raw);
  CHECK(raw->starts_with("2023-11-14T22:13:20.123456789Z stdout F hello\n"));
  auto lines = read_log(w.dir.path(), {});
  REQUIRE(lines);
  REQUIRE(lines->size() == 3);
  CHECK(lines->at(0).text == "hello");
  CHECK(lines->at(1).stream == LogStream::kStderr);
  CHECK(lines->at(1).text == "oops");
  CHECK(lines->at(2).text == "world");
  CHECK_FALSE(lines->at(2).partial);
  CHECK(format_rfc3339_nano(lines->at(0).time) == "2023-11-14T22:13:20.123456789Z");
}

TEST_CASE("a line longer than the cap is split into P records - exit cuts the rest", "[logs]") {
  Writer w;
  std::string big(shim::kMaxLogLine + 10, 'x');
  w.feed(0, big + "\nunfinished");
  struct timespec ts = {1'700'000'001, 0};
  w.w->finish(ts);
  auto lines = read_log(w.dir.path(), {});
  REQUIRE(lines);
  REQUIRE(lines->size() == 3);
  CHECK(lines->at(0).partial);
  CHECK(lines->at(0).text.size() == shim::kMaxLogLine);
  CHECK_FALSE(lines->at(1).partial);
  CHECK(lines->at(1).text == std::string(10, 'x'));
  CHECK(lines->at(2).partial);
  CHECK(lines->at(2).text == "unfinished");
}

TEST_CASE("the log rotates at the cap - tail and since select lines", "[logs]") {
  Writer w(200);
  for (int i = 0; i < 20; ++i) w.feed(0, "line-" + std::to_string(i) + "\n", 1'700'000'000 + i);
  CHECK(std::filesystem::exists(w.dir.path() / "log.1"));
  CHECK(std::filesystem::file_size(w.dir.path() / "log") <= 200);
  auto lines = read_log(w.dir.path(), {});
  REQUIRE(lines);
  REQUIRE(lines->size() >= 4);
  CHECK(lines->back().text == "line-19");
  for (std::size_t i = 1; i < lines->size(); ++i) CHECK(lines->at(i - 1).time < lines->at(i).time);
  LogQuery tail;
  tail.tail = 2;
  auto t = read_log(w.dir.path(), tail);
  REQUIRE(t->size() == 2);
  CHECK(t->at(0).text == "line-18");
  LogQuery since;
  since.since = *parse_rfc3339("2023-11-14T22:13:38Z");  // 1'700'000'018
  auto s = read_log(w.dir.path(), since);
  REQUIRE(s->size() == 2);
  CHECK(s->at(0).text == "line-18");
}

TEST_CASE("a follower sees new lines and carries on across a rotation", "[logs]") {
  Writer w(300);
  w.feed(0, "first\n");
  LogFollower f(w.dir.path());
  auto a = f.poll();
  REQUIRE(a);
  REQUIRE(a->size() == 1);
  CHECK(f.poll()->empty());
  w.feed(1, "second\n");
  auto b = f.poll();
  REQUIRE(b->size() == 1);
  CHECK(b->at(0).text == "second");
  std::vector<std::string> seen;
  for (int i = 0; i < 30; ++i) {
    w.feed(0, "n" + std::to_string(i) + "\n");
    if (i % 3 == 0) {
      auto got = f.poll();
      REQUIRE(got);
      for (const auto& l : *got) seen.push_back(l.text);
    }
  }
  auto rest = f.poll();
  REQUIRE(rest);
  for (const auto& l : *rest) seen.push_back(l.text);
  // Every line written after the first poll, in order, although the file rotated meanwhile.
  REQUIRE(seen.size() == 30);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == "n" + std::to_string(i));
  // Two rotations between polls: what the cap dropped is gone, the rest comes in order.
  for (int i = 30; i < 60; ++i) w.feed(0, "n" + std::to_string(i) + "\n");
  auto late = f.poll();
  REQUIRE(late);
  REQUIRE_FALSE(late->empty());
  CHECK(late->back().text == "n59");
  for (std::size_t i = 1; i < late->size(); ++i)
    CHECK(std::stoi(late->at(i).text.substr(1)) == std::stoi(late->at(i - 1).text.substr(1)) + 1);
}

TEST_CASE("malformed lines are reported or skipped", "[logs]") {
  CHECK_FALSE(parse_log_line("garbage"));
  CHECK_FALSE(parse_log_line("2023-11-14T22:13:20Z stdin F x"));
  CHECK_FALSE(parse_log_line("2023-11-14T22:13:20Z stdout X x"));
  auto empty = parse_log_line("2023-11-14T22:13:20Z stdout F");
  REQUIRE(empty);
  CHECK(empty->text.empty());
  auto spaces = parse_log_line("2023-11-14T22:13:20.5Z stderr F  two  spaces ");
  REQUIRE(spaces);
  CHECK(spaces->text == " two  spaces ");
}
