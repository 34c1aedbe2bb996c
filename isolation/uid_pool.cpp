#include "isolation/uid_pool.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <charconv>
#include <map>

#include "common/fd.hpp"
#include "common/fs.hpp"

namespace svc::isolation {

namespace {

// index -> owner
using Table = std::map<std::uint32_t, std::string>;

Result<Table> parse(const std::string& text, const std::filesystem::path& file) {
  Table t;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    std::size_t sp = line.find(' ');
    std::uint32_t index = 0;
    auto [p, ec] = std::from_chars(
        line.data(), line.data() + (sp == std::string_view::npos ? line.size() : sp), index);
    if (ec != std::errc() || sp == std::string_view::npos || sp + 1 >= line.size())
      return fail(Code::kDataLoss, "uid pool {}: bad line \"{}\" (expected \"<index> <owner>\")",
                  file.string(), line);
    (void)p;
    t[index] = std::string(line.substr(sp + 1));
  }
  return t;
}

std::string format(const Table& t) {
  std::string out;
  for (const auto& [i, owner] : t) out += std::to_string(i) + " " + owner + "\n";
  return out;
}

// Holds the pool's lock file locked for the lifetime of the object.
class PoolLock {
 public:
  static Result<PoolLock> take(const std::filesystem::path& file) {
    SVC_TRY(make_dirs(file.parent_path(), 0700));
    std::string lock_path = file.string() + ".lock";
    UniqueFd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("open uid pool lock " + lock_path);
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return fail_errno("lock uid pool " + lock_path);
    }
    PoolLock l;
    l.fd_ = std::move(fd);
    return l;
  }

 private:
  UniqueFd fd_;  // the lock is released when this closes
};

Result<Table> load(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return Table{};
  auto text = SVC_TRY_CTX(read_file(file), "read uid pool");
  return parse(text, file);
}

}  // namespace

UidPool::UidPool(Options options) : options_(std::move(options)) {}

Result<IdRange> UidPool::allocate(std::string_view owner) {
  if (owner.empty() || owner.find('\n') != std::string_view::npos)
    return fail(Code::kInvalidArgument, "uid pool: bad owner name \"{}\"", owner);
  std::uint64_t end = std::uint64_t(options_.base) + std::uint64_t(options_.block) * options_.count;
  if (options_.block == 0 || options_.count == 0 || end > 0xFFFFFFFEull)
    return fail(Code::kInvalidArgument,
                "uid pool: base {} + {} blocks of {} does not fit below 2^32-1", options_.base,
                options_.count, options_.block);
  auto lock = SVC_TRY(PoolLock::take(options_.file));
  auto table = SVC_TRY(load(options_.file));
  for (const auto& [i, o] : table)
    if (o == owner) return IdRange{options_.base + i * options_.block, options_.block};
  std::uint32_t index = 0;
  for (const auto& [i, o] : table) {
    if (i != index) break;
    ++index;
  }
  if (index >= options_.count)
    return fail(Code::kResourceExhausted,
                "uid pool {}: all {} ranges are in use; remove stopped sandboxes or raise the "
                "pool size",
                options_.file.string(), options_.count);
  table[index] = std::string(owner);
  SVC_TRY_CTX(write_file_atomic(options_.file, format(table), 0600, Flush::kNone),
              "write uid pool");
  (void)lock;
  return IdRange{options_.base + index * options_.block, options_.block};
}

Result<std::optional<IdRange>> UidPool::find(std::string_view owner) {
  auto lock = SVC_TRY(PoolLock::take(options_.file));
  auto table = SVC_TRY(load(options_.file));
  for (const auto& [i, o] : table)
    if (o == owner)
      return std::optional<IdRange>(IdRange{options_.base + i * options_.block, options_.block});
  return std::optional<IdRange>();
}

Result<> UidPool::release(std::string_view owner) {
  auto lock = SVC_TRY(PoolLock::take(options_.file));
  auto table = SVC_TRY(load(options_.file));
  bool changed = false;
  for (auto it = table.begin(); it != table.end();) {
    if (it->second == owner) {
      it = table.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed)
    SVC_TRY_CTX(write_file_atomic(options_.file, format(table), 0600, Flush::kNone),
                "write uid pool");
  return {};
}

Result<std::vector<std::string>> UidPool::release_if(
    const std::function<bool(const std::string& owner)>& drop) {
  auto lock = SVC_TRY(PoolLock::take(options_.file));
  auto table = SVC_TRY(load(options_.file));
  std::vector<std::string> released;
  for (auto it = table.begin(); it != table.end();) {
    if (drop(it->second)) {
      released.push_back(it->second);
      it = table.erase(it);
    } else {
      ++it;
    }
  }
  if (!released.empty())
    SVC_TRY_CTX(write_file_atomic(options_.file, format(table), 0600, Flush::kNone),
                "write uid pool");
  return released;
}

}  // namespace svc::isolation
