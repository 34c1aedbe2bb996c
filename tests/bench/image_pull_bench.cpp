// Benchmark (label bench, no assertions): pull + unpack of a ~200 MB, 3-layer image from a local
// docker-registry, by svcd (driven with svctl), by skopeo copy + umoci unpack, and by podman pull
// with its own --root, in the same run on the same machine; plus the machine's floor for this
// image on one core (SHA-256 of the blobs, gunzip, SHA-256 of the tars). Prints medians and
// ratios as a Markdown table (docs/BENCHMARKS.md "Image pull").
//   SVC_BENCH_RUNS=N (default 5)
//   SVC_BENCH_LAYOUT=DIR: only write the image's OCI layout to DIR and exit (for profiling)
#include <sys/mount.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include <isa-l/igzip_lib.h>
#include <zlib.h>
#include <zstd.h>

#include "common/digest.hpp"
#include "common/fs.hpp"
#include "tests/support/daemon_fixture.hpp"
#include "tests/support/image_builder.hpp"
#include "tests/support/registry_fixture.hpp"

using namespace svc;
using namespace svc::test;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    auto v = rng();
    std::memcpy(s.data() + i, &v, 8);
  }
  return s;
}

// Text-like data that gzip shrinks about 3-4x: words from a small vocabulary, random order.
std::string text_bytes(std::mt19937_64& rng, std::size_t n) {
  static const char* words[] = {"container", "layer",   "image",     "registry", "snapshot",
                                "overlay",   "digest",  "manifest",  "pull",     "unpack",
                                "sandbox",   "cgroup",  "namespace", "kernel",   "service",
                                "task",      "billing", "node"};
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) {
    s += words[rng() % 18];
    s += (rng() % 10 == 0) ? '\n' : ' ';
    if (rng() % 7 == 0) s += std::to_string(rng() % 100000);
  }
  s.resize(n);
  return s;
}

ImageBuilder big_image() {
  std::mt19937_64 rng(42);
  LayerBuilder l1, l2, l3;
  l1.dir("bin").file_from("bin/busybox", "/bin/busybox", 0755).dir("data");
  for (int i = 0; i < 700; ++i)
    l1.file("data/r" + std::to_string(i), random_bytes(rng, 100 * 1024));
  l2.dir("blobs");
  for (int i = 0; i < 6; ++i) l2.file("blobs/big" + std::to_string(i), random_bytes(rng, 10 << 20));
  l3.dir("docs");
  for (int i = 0; i < 1500; ++i)
    l3.file("docs/t" + std::to_string(i) + ".txt", text_bytes(rng, 100 * 1024));
  ImageBuilder b;
  b.layer(std::move(l1)).layer(std::move(l2)).layer(std::move(l3));
  b.config().cmd = {"/bin/busybox", "sh"};
  return b;
}

// The floor: one core hashing the compressed blobs, gunzipping them and hashing the tars.
struct Floor {
  double sha_mb_s = 0, gunzip_mb_s = 0, isal_mb_s = 0, zstd_mb_s = 0, seconds = 0;
};

Floor measure_floor(const fs::path& layout, const WrittenImage& w) {
  Floor f;
  std::size_t compressed = 0, plain = 0;
  double t_sha = 0, t_gz = 0, t_isal = 0;
  std::vector<std::string> tars;
  for (const auto& d : w.layer_digests) {
    auto blob = *read_file(layout / "blobs/sha256" / d.substr(7), 1ULL << 31);
    compressed += blob.size();
    auto t = Clock::now();
    (void)Digest::sha256_of(blob);
    t_sha += seconds_since(t);
    t = Clock::now();
    z_stream z{};
    inflateInit2(&z, 16 + MAX_WBITS);
    std::string out;
    std::string buf(1 << 20, '\0');
    z.next_in = reinterpret_cast<Bytef*>(blob.data());
    z.avail_in = static_cast<uInt>(blob.size());
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      z.next_out = reinterpret_cast<Bytef*>(buf.data());
      z.avail_out = static_cast<uInt>(buf.size());
      rc = inflate(&z, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) break;
      out.append(buf.data(), buf.size() - z.avail_out);
    }
    inflateEnd(&z);
    t_gz += seconds_since(t);
    // ISA-L's igzip, which svcd uses, on the same blob.
    t = Clock::now();
    auto st = std::make_unique<inflate_state>();
    isal_inflate_init(st.get());
    st->crc_flag = ISAL_GZIP;
    st->next_in = reinterpret_cast<std::uint8_t*>(blob.data());
    st->avail_in = static_cast<std::uint32_t>(blob.size());
    while (st->block_state != ISAL_BLOCK_FINISH) {
      st->next_out = reinterpret_cast<std::uint8_t*>(buf.data());
      st->avail_out = static_cast<std::uint32_t>(buf.size());
      if (isal_inflate(st.get()) < 0) break;
    }
    t_isal += seconds_since(t);
    plain += out.size();
    tars.push_back(std::move(out));
  }
  double t_sha_plain = 0;
  for (const auto& tar : tars) {
    auto t = Clock::now();
    (void)Digest::sha256_of(tar);
    t_sha_plain += seconds_since(t);
  }
  // zstd on the same tars (level 3, as containerd and podman write zstd layers).
  double t_zstd = 0;
  for (const auto& tar : tars) {
    std::string c(ZSTD_compressBound(tar.size()), '\0');
    c.resize(ZSTD_compress(c.data(), c.size(), tar.data(), tar.size(), 3));
    std::string back(tar.size(), '\0');
    auto t = Clock::now();
    ZSTD_decompress(back.data(), back.size(), c.data(), c.size());
    t_zstd += seconds_since(t);
  }
  f.sha_mb_s = static_cast<double>(compressed + plain) / 1e6 / (t_sha + t_sha_plain);
  f.gunzip_mb_s = static_cast<double>(plain) / 1e6 / t_gz;
  f.isal_mb_s = static_cast<double>(plain) / 1e6 / t_isal;
  f.zstd_mb_s = static_cast<double>(plain) / 1e6 / t_zstd;
  f.seconds = t_sha + t_gz + t_sha_plain;
  std::cout << fmt::format(
      "image: {} MB compressed, {} MB of tar; floor on one core: sha256 {:.3f} s + "
      "gunzip {:.3f} s + sha256(tar) {:.3f} s = {:.3f} s\n",
      compressed / 1000000, plain / 1000000, t_sha, t_gz, t_sha_plain, f.seconds);
  return f;
}

}  // namespace

int main() {
  int runs = 5;
  if (const char* r = std::getenv("SVC_BENCH_RUNS")) runs = std::max(1, std::atoi(r));
  if (const char* dir = std::getenv("SVC_BENCH_LAYOUT")) {
    big_image().write_layout(dir, "t");
    return 0;
  }
  RegistryFixture reg;
  reg.start();
  TempDir work("svc-bench-pull-");
  fs::path layout = work.path() / "layout";
  auto t_build = Clock::now();
  WrittenImage w = big_image().write_layout(layout, "t");
  std::cout << fmt::format("built the image in {:.1f} s\n", seconds_since(t_build));
  std::string ref = reg.push_layout(layout, "t", "bench/big:1");
  Floor floor = measure_floor(layout, w);

  DaemonFixture::Options o;
  o.extra_config = "[registries]\ninsecure = [\"" + reg.host() + "\"]\n";

  // Every run of every tool writes into fresh directories and nothing is deleted until the end:
  // deleting ~2,000 files just before a pull makes ext4 skip (and re-check) the recently freed
  // inodes, which would measure the file system's bookkeeping rather than the pull. A fresh
  // svcd per run is a cold node.
  std::vector<double> t_svc, t_umoci, t_podman;
  std::vector<std::unique_ptr<DaemonFixture>> daemons;
  for (int i = 0; i < runs; ++i) {
    auto d = std::make_unique<DaemonFixture>(o);
    d->start();
    ::sync();
    auto t = Clock::now();
    auto r = d->svctl({"pull", ref}, std::chrono::minutes(5));
    double s = seconds_since(t);
    if (r.exit_code != 0) {
      std::cerr << "svctl pull failed: " << r.err << "\n" << d->log();
      return 1;
    }
    t_svc.push_back(s);
    d->stop();
    daemons.push_back(std::move(d));

    fs::path oci = work.path() / ("skopeo-oci-" + std::to_string(i));
    fs::path bundle = work.path() / ("bundle-" + std::to_string(i));
    ::sync();
    t = Clock::now();
    auto c =
        skopeo({"copy", "--src-tls-verify=false", "docker://" + ref, "oci:" + oci.string() + ":t"},
               std::chrono::minutes(5));
    auto u = run({"umoci", "unpack", "--image", oci.string() + ":t", bundle.string()},
                 std::chrono::minutes(5));
    s = seconds_since(t);
    if (c.exit_code == 0 && u.exit_code == 0)
      t_umoci.push_back(s);
    else
      std::cerr << "skopeo/umoci failed: " << c.err << u.err << "\n";

    fs::path proot = work.path() / ("podman-root-" + std::to_string(i));
    fs::path prun = work.path() / ("podman-run-" + std::to_string(i));
    ::sync();
    t = Clock::now();
    auto p = run({"podman", "--root", proot.string(), "--runroot", prun.string(),
                  "--storage-driver", "overlay", "--events-backend", "file", "--cgroup-manager",
                  "cgroupfs", "pull", "--tls-verify=false", "-q", ref},
                 std::chrono::minutes(5));
    s = seconds_since(t);
    if (p.exit_code == 0)
      t_podman.push_back(s);
    else
      std::cerr << "podman pull failed: " << p.err << "\n";
  }
  for (int i = 0; i < runs; ++i) {
    fs::path proot = work.path() / ("podman-root-" + std::to_string(i));
    fs::path prun = work.path() / ("podman-run-" + std::to_string(i));
    run({"podman", "--root", proot.string(), "--runroot", prun.string(), "--storage-driver",
         "overlay", "system", "reset", "-f"});
  }
  daemons.clear();

  double svc = median(t_svc), um = median(t_umoci), pod = median(t_podman);
  std::cout << "\n## Image pull\n\n"
            << fmt::format(
                   "{} runs each, medians, cold pulls from docker-registry on 127.0.0.1.\n\n", runs)
            << "| what | median (s) | svcd is faster by |\n| --- | --- | --- |\n"
            << fmt::format("| svcd (`svctl pull`) | {:.3f} | 1.00x |\n", svc)
            << fmt::format("| skopeo copy + umoci unpack | {:.3f} | {:.2f}x |\n", um,
                           svc > 0 ? um / svc : 0)
            << fmt::format("| podman pull --root <temp> | {:.3f} | {:.2f}x |\n", pod,
                           svc > 0 ? pod / svc : 0)
            << fmt::format(
                   "| floor: one core, sha256 + gunzip + sha256(tar) | {:.3f} | {:.2f}x |\n",
                   floor.seconds, svc > 0 ? floor.seconds / svc : 0)
            << fmt::format(
                   "\nOne core: SHA-256 {:.0f} MB/s, gunzip (zlib) {:.0f} MB/s and (ISA-L igzip, "
                   "what svcd uses) {:.0f} MB/s of output, zstd -d {:.0f} MB/s of output.\n",
                   floor.sha_mb_s, floor.gunzip_mb_s, floor.isal_mb_s, floor.zstd_mb_s);
  std::cout << "svcd runs:";
  for (double s : t_svc) std::cout << fmt::format(" {:.3f}", s);
  std::cout << "\n";
  return 0;
}
