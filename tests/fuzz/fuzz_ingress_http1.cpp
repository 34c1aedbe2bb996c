// libFuzzer: the ingress proxy's HTTP/1.1 request parsing and what it forwards.
//
// Input: one control byte (how to split the rest as it "arrives"), then the bytes a client
// sends. Properties checked:
//   - feeding the bytes in pieces gives the same outcome as feeding them at once (the head scan
//     resumes correctly; the body comes out the same whatever the split);
//   - every view in an accepted head points into the bytes given (but an implied "/" path), and
//     head_bytes fits them;
//   - no smuggling through the proxy: the head the proxy writes towards an instance parses back
//     as valid, with the same method, path, authority and body framing, and no hop-by-hop field;
//   - the response parser never crashes on what an instance could send.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "scheduler/ingress/http1_parser.hpp"
#include "scheduler/ingress/http1_writer.hpp"
#include "scheduler/ingress/http_rules.hpp"

using namespace svc::ingress;

namespace {

Limits limits() {
  Limits l;
  l.max_header_bytes = 4096;
  l.max_header_count = 32;
  l.max_response_header_bytes = 4096;
  return l;
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

struct Outcome {
  Parse result = Parse::kNeedMore;
  int status = 0;
  std::size_t head_bytes = 0;
  std::string body;
  bool body_error = false;
};

// Parses bytes as they would arrive step bytes at a time (step 0: all at once).
Outcome parse(std::string_view bytes, std::size_t step, RequestParser& p) {
  Outcome o;
  p.reset();
  std::size_t fed = step == 0 ? bytes.size() : std::min(step, bytes.size());
  for (;;) {
    std::string_view seen = bytes.substr(0, fed);
    o.result = p.parse_head(seen);
    if (o.result == Parse::kError) {
      o.status = p.error().status;
      if (o.status < 400 || o.status > 599) std::abort();
      return o;
    }
    if (o.result == Parse::kDone) break;
    if (fed == bytes.size()) return o;
    fed = std::min(bytes.size(), fed + step);
  }
  const RequestHead& h = p.head();
  o.head_bytes = h.head_bytes;
  if (h.head_bytes > fed) std::abort();
  std::string_view seen = bytes.substr(0, fed);
  for (auto v : {h.method, h.target, h.authority})
    if (!inside(v, seen)) std::abort();
  // An absolute-form target with no path ("GET http://a.localhost HTTP/1.1") is forwarded with
  // the path "/", a static string rather than a view into the bytes.
  if (!inside(h.path, seen) && h.path != "/") std::abort();
  for (const auto& f : h.fields)
    if (!inside(f.name, seen) || !inside(f.value, seen)) std::abort();
  if (h.chunked && h.content_length) std::abort();  // refused by construction
  // The body, in the same steps.
  std::size_t at = h.head_bytes;
  std::string pending(bytes.substr(at, fed - at));
  for (;;) {
    std::vector<std::string_view> pieces;
    std::size_t used = 0;
    Parse r = p.parse_body(pending, pieces, used);
    if (used > pending.size()) std::abort();
    for (auto piece : pieces) {
      if (!inside(piece, pending)) std::abort();
      o.body.append(piece);
    }
    if (r == Parse::kError) {
      o.body_error = true;
      return o;
    }
    pending.erase(0, used);
    if (r == Parse::kDone || fed == bytes.size()) return o;
    std::size_t next = step == 0 ? bytes.size() : std::min(bytes.size(), fed + step);
    pending.append(bytes.substr(fed, next - fed));
    fed = next;
  }
}

// What the proxy sends on parses back to the same request.
void check_forwarded(const RequestHead& h) {
  std::string forwarding;
  append_forwarding(forwarding, h.fields, "192.0.2.7", h.authority, "http");
  std::string out;
  write_request_head(out, h, forwarding, h.chunked);
  Limits big = limits();
  big.max_header_bytes = 1 << 20;
  big.max_header_count = 10'000;
  RequestParser again(big);
  if (again.parse_head(out) != Parse::kDone) std::abort();
  const RequestHead& g = again.head();
  if (g.method != h.method || g.path != h.path || g.authority != h.authority) std::abort();
  if (g.chunked != h.chunked || g.content_length != h.content_length) std::abort();
  if (g.head_bytes != out.size()) std::abort();
  for (const auto& f : g.fields)
    if (is_hop_by_hop(f.name) && !iequals(f.name, "transfer-encoding")) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::size_t step = data[0] & 0x3f;  // 0: at once, else 1..63 bytes per arrival
  bool response = data[0] & 0x80;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  if (response) {
    ResponseParser rp(limits());
    rp.reset((data[0] & 0x40) != 0);
    if (rp.parse_head(bytes) == Parse::kDone) {
      const ResponseHead& h = rp.head();
      if (h.head_bytes > bytes.size()) std::abort();
      std::string_view rest = bytes.substr(h.head_bytes);
      std::vector<std::string_view> pieces;
      std::size_t used = 0;
      if (!h.no_body) (void)rp.parse_body(rest, pieces, used);
      if (used > rest.size()) std::abort();
      (void)rp.finish_on_eof();
    }
    return 0;
  }

  RequestParser whole(limits()), split(limits());
  Outcome a = parse(bytes, 0, whole);
  Outcome b = parse(bytes, step, split);
  // The same bytes give the same answer however they arrive (a split can only turn "need
  // more" into a refusal when it is the limit itself that is reached).
  if (a.result != b.result || a.status != b.status || a.head_bytes != b.head_bytes) std::abort();
  if (a.body_error != b.body_error) std::abort();
  if (!a.body_error && a.body != b.body) std::abort();
  // An HTTP/1.0 request may have no Host: it routes nowhere (404) and is never forwarded.
  if (a.result == Parse::kDone && !whole.head().authority.empty()) check_forwarded(whole.head());
  return 0;
}
