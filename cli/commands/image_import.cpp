// svctl image import: an archive (an OCI layout tar or a `docker save` tar, or "-" for stdin)
// is sent to svcd over the API (Images.Upload, then Import), so it works for whoever can read
// the file, over the unix socket or TCP; svcd never opens a path on the caller's behalf. A
// layout directory is imported by path, which svcd allows only to root on the unix socket.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "cli/context.hpp"
#include "common/fd.hpp"
#include "common/units.hpp"

namespace svc::cli {

std::string repo_tag(const v1::Image& im);

namespace {

// Comfortably under svcd's 4 MiB per call; large enough that a 1 GiB archive is 512 calls.
constexpr std::size_t kChunk = 2 << 20;

// Reads up to n bytes (less only at the end of the input).
Result<std::size_t> read_full(int fd, char* buf, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read");
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

// Sends the input in chunks; returns the upload's id. Progress on stderr when it is a terminal.
int upload(Context& ctx, int fd, const std::string& what, std::int64_t total, std::string* id) {
  bool tty = ::isatty(STDERR_FILENO) && !ctx.json();
  std::string buf(kChunk, '\0');
  std::int64_t sent = 0;
  for (;;) {
    auto n = read_full(fd, buf.data(), buf.size());
    if (!n) return ctx.report(n.error().context(what));
    v1::UploadRequest req;
    req.set_upload_id(*id);
    req.set_offset(sent);
    req.set_data(buf.data(), *n);
    v1::UploadResponse resp;
    auto call = ctx.client().context(std::chrono::minutes(2));
    auto status = ctx.client().images().Upload(call.get(), req, &resp);
    if (!status.ok()) return ctx.report(ctx.client().error(status));
    *id = resp.upload_id();
    sent = resp.size();
    if (tty) {
      std::cerr << "\rsending " << what << ": "
                << format_size_human(static_cast<std::uint64_t>(sent));
      if (total > 0) std::cerr << " of " << format_size_human(static_cast<std::uint64_t>(total));
      std::cerr << "   " << std::flush;
    }
    if (*n < buf.size()) break;  // the end of the input (an empty input is an empty upload)
  }
  if (tty) std::cerr << "\n";
  return kExitOk;
}

}  // namespace

void add_image_import_command(CLI::App& image, Context& ctx) {
  struct Opts {
    std::string path, ref;
  };
  auto o = std::make_shared<Opts>();
  auto* import = image.add_subcommand(
      "import",
      "import an OCI image layout (tar, or a directory on the node) or a `docker save` tar");
  import->add_option("path", o->path, "the archive (\"-\" reads it from stdin) or layout directory")
      ->required();
  import->add_option("name", o->ref, "name for an image that carries none");
  set_runner(import, [&ctx, o]() -> int {
    v1::ImportImageRequest req;
    req.set_reference(o->ref);
    UniqueFd file;
    int fd = STDIN_FILENO;
    std::int64_t total = 0;
    bool directory = false;
    if (o->path != "-") {
      struct stat st {};
      if (::stat(o->path.c_str(), &st) != 0)
        return ctx.report(Error(errno == ENOENT ? Code::kNotFound : Code::kInvalidArgument,
                                fmt::format("image import {}: {}", o->path, std::strerror(errno))));
      directory = S_ISDIR(st.st_mode);
      if (!directory) {
        file.reset(::open(o->path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!file)
          return ctx.report(
              Error(Code::kPermissionDenied,
                    fmt::format("image import {}: {}", o->path, std::strerror(errno))));
        fd = file.get();
        total = S_ISREG(st.st_mode) ? static_cast<std::int64_t>(st.st_size) : 0;
      }
    }
    if (directory) {
      std::error_code ec;
      auto abs = std::filesystem::absolute(o->path, ec);
      req.set_path(ec ? o->path : abs.string());
    } else {
      std::string id;
      if (int rc = upload(ctx, fd, o->path == "-" ? "stdin" : o->path, total, &id); rc != kExitOk)
        return rc;
      req.set_upload_id(id);
    }
    v1::ImportImageResponse resp;
    auto call = ctx.client().context(std::chrono::minutes(30));
    auto status = ctx.client().images().Import(call.get(), req, &resp);
    if (!status.ok()) {
      int rc = ctx.report(status);
      if (directory && status.error_code() == grpc::StatusCode::PERMISSION_DENIED)
        std::cerr << "svctl: a layout directory is read by svcd itself; send it as a tar "
                     "instead: tar -C "
                  << o->path << " -cf - . | svctl image import -"
                  << (o->ref.empty() ? "" : " " + o->ref) << "\n";
      return rc;
    }
    if (ctx.json()) {
      print_json(std::cout, resp);
      return kExitOk;
    }
    for (const auto& im : resp.images())
      std::cout << "Imported " << repo_tag(im) << " " << im.digest() << "\n";
    return kExitOk;
  });
}

}  // namespace svc::cli
