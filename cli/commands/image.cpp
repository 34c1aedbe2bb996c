// svctl pull, images, image rm|import|prune|inspect.
#include <unistd.h>

#include <iostream>
#include <map>

#include <google/protobuf/util/time_util.h>

#include "cli/context.hpp"
#include "common/units.hpp"

namespace svc::cli {

void add_image_import_command(CLI::App& image, Context& ctx);  // image_import.cpp

namespace {

std::string phase_name(v1::LayerProgress::Phase p) {
  switch (p) {
    case v1::LayerProgress::WAITING:
      return "waiting";
    case v1::LayerProgress::DOWNLOADING:
      return "downloading";
    case v1::LayerProgress::VERIFYING:
      return "verifying";
    case v1::LayerProgress::UNPACKING:
      return "unpacking";
    case v1::LayerProgress::DONE:
      return "done";
    case v1::LayerProgress::ALREADY_EXISTS:
      return "already exists";
    default:
      return "?";
  }
}

std::string short_digest(const std::string& d) {
  auto colon = d.find(':');
  return colon == std::string::npos ? d.substr(0, 12) : d.substr(colon + 1, 12);
}

std::string size_str(std::int64_t b) {
  return format_size_human(static_cast<std::uint64_t>(std::max<std::int64_t>(b, 0)));
}

// Draws one line per layer and redraws them in place (ANSI cursor-up) on a terminal; prints a
// plain line per phase change otherwise, so logs and pipes stay readable.
class PullView {
 public:
  PullView(std::ostream& out, bool tty) : out_(out), tty_(tty) {}

  void show(const v1::PullProgress& p) {
    if (!p.message().empty() && p.message() != message_) {
      message_ = p.message();
      if (!tty_ || drawn_ == 0) {
        out_ << message_ << "\n";
      }
    }
    if (tty_) {
      draw(p);
    } else {
      for (const auto& l : p.layers()) {
        auto& last = phases_[l.digest()];
        if (last == l.phase()) continue;
        last = l.phase();
        out_ << short_digest(l.digest()) << ": " << phase_name(l.phase());
        if (l.phase() == v1::LayerProgress::DONE || l.phase() == v1::LayerProgress::ALREADY_EXISTS)
          out_ << " (" << size_str(l.total()) << ")";
        out_ << "\n";
      }
    }
    out_.flush();
  }

 private:
  void draw(const v1::PullProgress& p) {
    if (drawn_ > 0) out_ << "\x1b[" << drawn_ << "A";
    int lines = 0;
    for (const auto& l : p.layers()) {
      constexpr int kWidth = 30;
      double frac =
          l.total() > 0 ? static_cast<double>(l.current()) / static_cast<double>(l.total()) : 0;
      if (l.phase() == v1::LayerProgress::DONE || l.phase() == v1::LayerProgress::ALREADY_EXISTS)
        frac = 1;
      frac = std::min(1.0, std::max(0.0, frac));
      int fill = static_cast<int>(frac * kWidth);
      std::string bar(static_cast<std::size_t>(fill), '=');
      if (fill < kWidth) bar += '>' + std::string(static_cast<std::size_t>(kWidth - fill - 1), ' ');
      out_ << "\x1b[2K" << short_digest(l.digest()) << " "
           << fmt::format("{:<14}", phase_name(l.phase())) << " [" << bar << "] "
           << size_str(l.current()) << "/" << size_str(l.total()) << "\n";
      ++lines;
    }
    out_ << "\x1b[2K" << message_ << "\n";
    drawn_ = lines + 1;
  }

  std::ostream& out_;
  bool tty_;
  int drawn_ = 0;
  std::string message_;
  std::map<std::string, v1::LayerProgress::Phase> phases_;
};

}  // namespace

// Also used by image_import.cpp.
std::string repo_tag(const v1::Image& im) {
  return im.reference().empty() ? std::string("<none>") : im.reference();
}

namespace {

void print_image(const v1::Image& im) {
  using google::protobuf::util::TimeUtil;
  Fields f;
  f.add("Reference", repo_tag(im));
  for (int i = 1; i < im.references_size(); ++i) f.add("Also", im.references(i));
  f.add("Digest", im.digest());
  f.add("Config", im.config_digest());
  f.add("Media type", im.media_type());
  std::string plat = im.platform().os() + "/" + im.platform().architecture();
  if (!im.platform().variant().empty()) plat += "/" + im.platform().variant();
  f.add("Platform", plat);
  f.add("Size", fmt::format("{} compressed, {} unpacked", size_str(im.size()),
                            size_str(im.unpacked_size())));
  const auto& c = im.config();
  auto join = [](const auto& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s;
  };
  if (c.entrypoint_size()) f.add("Entrypoint", join(c.entrypoint()));
  if (c.cmd_size()) f.add("Cmd", join(c.cmd()));
  if (!c.workdir().empty()) f.add("Workdir", c.workdir());
  if (!c.user().empty()) f.add("User", c.user());
  if (c.exposed_ports_size()) f.add("Ports", join(c.exposed_ports()));
  if (!c.stop_signal().empty()) f.add("Stop signal", c.stop_signal());
  for (const auto& e : c.env()) f.add("Env", e);
  for (const auto& [k, v] : c.labels()) f.add("Label", k + "=" + v);
  for (const auto& l : im.layers())
    f.add("Layer", fmt::format("{} {} (chain {})", l.digest(), size_str(l.size()),
                               short_digest(l.chain_id())));
  if (im.has_created_at()) f.add("Created", TimeUtil::ToString(im.created_at()));
  f.add("Pulled", TimeUtil::ToString(im.pulled_at()));
  f.print(std::cout);
}

Result<v1::Platform> parse_platform_flag(const std::string& text) {
  v1::Platform p;
  if (text.empty()) return p;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto slash = text.find('/', start);
    parts.push_back(text.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (const auto& s : parts)
    if (s.empty())
      return fail(Code::kInvalidArgument, "--platform \"{}\": expected os/arch[/variant]", text);
  if (parts.size() == 1) {
    p.set_os("linux");
    p.set_architecture(parts[0]);
  } else if (parts.size() <= 3) {
    p.set_os(parts[0]);
    p.set_architecture(parts[1]);
    if (parts.size() == 3) p.set_variant(parts[2]);
  } else {
    return fail(Code::kInvalidArgument, "--platform \"{}\": expected os/arch[/variant]", text);
  }
  return p;
}

}  // namespace

grpc::Status pull_image(Context& ctx, const v1::PullImageRequest& req, std::ostream& out, bool tty,
                        bool quiet, v1::Image* image) {
  auto call = ctx.client().context(std::nullopt);
  auto reader = ctx.client().images().Pull(call.get(), req);
  PullView view(out, tty);
  v1::PullProgress msg;
  while (reader->Read(&msg)) {
    if (msg.has_image()) {
      if (image) *image = msg.image();
      continue;
    }
    if (!quiet) view.show(msg);
  }
  return reader->Finish();
}

void add_image_commands(CLI::App& app, Context& ctx) {
  // svctl pull IMAGE
  auto* pull = app.add_subcommand("pull", "pull an image from a registry");
  static std::string pull_ref, pull_platform;
  pull->add_option("image", pull_ref, "the image, e.g. alpine:3 or 127.0.0.1:5000/app:1")
      ->required();
  pull->add_option("--platform", pull_platform, "os/arch[/variant]; default: this node's");
  set_runner(pull, [&ctx]() -> int {
    v1::PullImageRequest req;
    req.set_reference(pull_ref);
    auto plat = parse_platform_flag(pull_platform);
    if (!plat) return ctx.report(plat.error());
    *req.mutable_platform() = *plat;
    v1::Image image;
    auto status =
        pull_image(ctx, req, std::cout, !ctx.json() && ::isatty(STDOUT_FILENO), ctx.json(), &image);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, image);
    } else {
      std::cout << "Pulled " << repo_tag(image) << "\nDigest: " << image.digest() << "\n";
    }
    return kExitOk;
  });

  // svctl images
  auto* images = app.add_subcommand("images", "list the images on this node");
  set_runner(images, [&ctx]() -> int {
    v1::ListImagesResponse resp;
    auto call = ctx.client().context();
    auto status = ctx.client().images().List(call.get(), v1::ListImagesRequest(), &resp);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, resp);
      return kExitOk;
    }
    Table t({"REFERENCE", "DIGEST", "PLATFORM", "SIZE", "UNPACKED", "PULLED"});
    for (const auto& im : resp.images()) {
      std::string plat = im.platform().os() + "/" + im.platform().architecture();
      std::string pulled = google::protobuf::util::TimeUtil::ToString(im.pulled_at()).substr(0, 19);
      if (im.references().empty())
        t.add({"<none>", short_digest(im.digest()), plat, size_str(im.size()),
               size_str(im.unpacked_size()), pulled});
      for (const auto& r : im.references())
        t.add({r, short_digest(im.digest()), plat, size_str(im.size()),
               size_str(im.unpacked_size()), pulled});
    }
    t.print(std::cout);
    return kExitOk;
  });

  auto* image = app.add_subcommand("image", "manage images");
  image->require_subcommand(1);

  auto* rm =
      image->add_subcommand("rm", "remove an image's name, and the image when no name is left");
  static std::string rm_ref;
  static bool rm_force = false;
  rm->add_option("image", rm_ref, "a name, a digest or a digest prefix")->required();
  rm->add_flag("--force,-f", rm_force, "remove the name even when a task uses the image");
  set_runner(rm, [&ctx]() -> int {
    v1::RemoveImageRequest req;
    req.set_reference(rm_ref);
    req.set_force(rm_force);
    v1::RemoveImageResponse resp;
    auto call = ctx.client().context();
    auto status = ctx.client().images().Remove(call.get(), req, &resp);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, resp);
      return kExitOk;
    }
    for (const auto& u : resp.untagged()) std::cout << "Untagged: " << u << "\n";
    for (const auto& d : resp.deleted()) std::cout << "Deleted: " << d << "\n";
    std::cout << "Reclaimed " << size_str(resp.reclaimed_bytes()) << "\n";
    return kExitOk;
  });

  add_image_import_command(*image, ctx);

  auto* prune = image->add_subcommand("prune", "remove unused images, blobs and snapshots");
  static bool prune_all = false;
  prune->add_flag("--all,-a", prune_all, "also remove named images that no task uses");
  set_runner(prune, [&ctx]() -> int {
    v1::PruneImagesRequest req;
    req.set_all(prune_all);
    v1::PruneImagesResponse resp;
    auto call = ctx.client().context(std::chrono::minutes(10));
    auto status = ctx.client().images().Prune(call.get(), req, &resp);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json()) {
      print_json(std::cout, resp);
      return kExitOk;
    }
    for (const auto& d : resp.deleted_images()) std::cout << "Deleted: " << d << "\n";
    std::cout << fmt::format("Removed {} blobs and {} snapshots, reclaimed {}\n",
                             resp.deleted_blobs(), resp.deleted_snapshots(),
                             size_str(resp.reclaimed_bytes()));
    return kExitOk;
  });

  auto* inspect = image->add_subcommand("inspect", "show an image's details and config");
  static std::string inspect_ref;
  inspect->add_option("image", inspect_ref, "a name, a digest or a digest prefix")->required();
  set_runner(inspect, [&ctx]() -> int {
    v1::GetImageRequest req;
    req.set_reference(inspect_ref);
    v1::Image resp;
    auto call = ctx.client().context();
    auto status = ctx.client().images().Get(call.get(), req, &resp);
    if (!status.ok()) return ctx.report(status);
    if (ctx.json())
      print_json(std::cout, resp);
    else
      print_image(resp);
    return kExitOk;
  });
}

}  // namespace svc::cli
