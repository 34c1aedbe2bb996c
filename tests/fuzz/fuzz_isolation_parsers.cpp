// libFuzzer: the isolation module's parsers of text it does not write itself or that carries a
// task's bytes: OCI config.json (svc-runtime bundles), CRI log lines (task output), exit records
// and RFC 3339 times. The first byte picks the parser.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "isolation/exit_record.hpp"
#include "isolation/log_reader.hpp"
#include "isolation/oci_spec.hpp"
#include "isolation/plan.hpp"
#include "isolation/rfc3339.hpp"

using namespace svc::isolation;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto c = parse_oci_config(text, "/bundle");
      if (c) {
        // Whatever parses must also plan or be refused cleanly, and export again.
        PlanContext ctx;
        ctx.id = "fuzz";
        ctx.sandbox_dir = "/state/fuzz";
        ctx.ids = {1'000'000'000u, 65536};
        (void)plan_sandbox(c->spec, ctx);
        if (!parse_oci_config(to_oci_config(c->spec, "rootfs"), "/bundle")) std::abort();
      }
      break;
    }
    case 1: {
      auto l = parse_log_line(text);
      if (l && l->text.size() > text.size()) std::abort();
      break;
    }
    case 2: {
      auto r = parse_exit_record(text);
      if (r && !parse_exit_record(to_json(*r))) std::abort();
      break;
    }
    case 3: {
      auto t = parse_rfc3339(text);
      if (t) {
        auto again = parse_rfc3339(format_rfc3339_nano(*t));
        if (!again || *again != *t) std::abort();
      }
      break;
    }
  }
  return 0;
}
