#include "scheduler/ingress/http1_parser.hpp"

#include <utility>  // before Asio/Beast with g++ 12 in C++20 (DEPENDENCIES.md)

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <limits>
#include <optional>

#include "scheduler/ingress/host_routing.hpp"
#include "scheduler/ingress/http_rules.hpp"

namespace svc::ingress {

namespace http = boost::beast::http;
using boost::beast::error_code;

namespace {

// Bodies are streamed, never held, so they have no size limit. Not boost::none: Beast 1.74
// compares the Content-Length against the optional, and every value is greater than none.
constexpr std::uint64_t kNoBodyLimit = std::numeric_limits<std::uint64_t>::max();

std::string_view sv(boost::beast::string_view s) { return {s.data(), s.size()}; }

// Where a message head ends, refusing what Beast would silently accept: a bare LF, an obs-fold
// (a line starting with SP/HTAB), and whitespace between the start line and the first field.
// Resumable: from/line_start carry the scan across calls as bytes arrive.
struct HeadScan {
  std::size_t from = 0;        // next byte to look at for an LF
  std::size_t line_start = 0;  // first byte of the line being scanned

  // kDone: end = the head's length (through its empty line).
  Parse scan(std::string_view bytes, std::size_t& end, ParseError& err) {
    for (;;) {
      auto lf = bytes.find('\n', from);
      if (lf == std::string_view::npos) {
        from = bytes.size();
        return Parse::kNeedMore;
      }
      if (lf == 0 || bytes[lf - 1] != '\r') {
        err = {400, "bare LF in the request head (lines end with CRLF)"};
        return Parse::kError;
      }
      if (lf - 1 == line_start) {  // an empty line: the head ends here
        if (line_start == 0) {
          err = {400, "empty line before the request line"};
          return Parse::kError;
        }
        end = lf + 1;
        return Parse::kDone;
      }
      if (lf + 1 >= bytes.size()) {  // need the next byte to rule out obs-fold
        from = lf;
        return Parse::kNeedMore;
      }
      if (bytes[lf + 1] == ' ' || bytes[lf + 1] == '\t') {
        err = {400, "obsolete line folding (obs-fold) in the head"};
        return Parse::kError;
      }
      line_start = lf + 1;
      from = lf + 1;
    }
  }
};

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

ParseError beast_error(const error_code& ec, bool request) {
  int status = request ? 400 : 502;
  if (ec == http::error::header_limit)
    return {request ? 431 : 502, request ? "request head too large" : "response head too large"};
  if (ec == http::error::bad_method) return {status, "bad method"};
  if (ec == http::error::bad_target) return {status, "bad request target"};
  if (ec == http::error::bad_version) return {status, "bad HTTP version"};
  if (ec == http::error::bad_status) return {status, "bad status code"};
  if (ec == http::error::bad_reason) return {status, "bad reason phrase"};
  if (ec == http::error::bad_field) return {status, "bad header field name"};
  if (ec == http::error::bad_value) return {status, "bad header field value"};
  if (ec == http::error::bad_line_ending) return {status, "bad line ending"};
  if (ec == http::error::bad_content_length) return {status, "bad or conflicting Content-Length"};
  if (ec == http::error::bad_transfer_encoding)
    return {status, "bad Transfer-Encoding (or Transfer-Encoding with Content-Length)"};
  if (ec == http::error::bad_chunk) return {status, "bad chunk size or framing"};
  if (ec == http::error::bad_chunk_extension) return {status, "bad chunk extension"};
  if (ec == http::error::partial_message) return {status, "message cut short"};
  return {status, request ? "malformed request" : "malformed response"};
}

// What the Beast callbacks collect beyond the head itself.
struct Seen {
  std::size_t fields = 0;
  bool header_done = false;
  bool content_length = false;
  bool bad_content_length = false;
  std::size_t hosts = 0;
  std::string_view host;
  std::string_view transfer_encoding;
  std::size_t expects = 0;
  std::string_view expect;
  std::vector<std::string_view>* pieces = nullptr;  // where body pieces go
  bool too_many = false;

  void clear() { *this = Seen{}; }
};

template <bool isRequest, class Head>
class BeastParser final : public http::basic_parser<isRequest> {
 public:
  BeastParser(Head& head, Seen& seen, std::size_t max_fields)
      : head_(head), seen_(seen), max_fields_(max_fields) {}

 private:
  void on_request_impl(http::verb, boost::beast::string_view method,
                       boost::beast::string_view target, int version, error_code&) override {
    if constexpr (isRequest) {
      head_.method = sv(method);
      head_.target = sv(target);
      head_.version = version;
    }
  }
  void on_response_impl(int code, boost::beast::string_view reason, int version,
                        error_code&) override {
    if constexpr (!isRequest) {
      head_.status = code;
      head_.reason = sv(reason);
      head_.version = version;
    }
  }
  void on_field_impl(http::field f, boost::beast::string_view name, boost::beast::string_view value,
                     error_code& ec) override {
    if (seen_.header_done) return;  // chunked trailers: not forwarded over HTTP/1.1
    if (++seen_.fields > max_fields_) {
      seen_.too_many = true;
      ec = http::error::header_limit;
      return;
    }
    std::string_view v = sv(value);
    switch (f) {
      case http::field::content_length:
        // One Content-Length of digits only: a second one (even equal) or a list is how
        // requests are smuggled past proxies that pick a different one than the server.
        if (seen_.content_length || !all_digits(v)) {
          seen_.bad_content_length = true;
          ec = http::error::bad_content_length;
          return;
        }
        seen_.content_length = true;
        break;
      case http::field::transfer_encoding:
        seen_.transfer_encoding = v;
        break;
      case http::field::host:
        ++seen_.hosts;
        seen_.host = v;
        break;
      case http::field::expect:
        ++seen_.expects;
        seen_.expect = v;
        break;
      default:
        break;
    }
    head_.fields.push_back(Field{sv(name), v});
  }
  void on_header_impl(error_code&) override { seen_.header_done = true; }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(boost::beast::string_view body, error_code&) override {
    if (!body.empty()) seen_.pieces->push_back(sv(body));
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                                 error_code&) override {
    if (!body.empty()) seen_.pieces->push_back(sv(body));
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  Head& head_;
  Seen& seen_;
  std::size_t max_fields_;
};

template <class P>
Parse put_body(P& parser, Seen& seen, std::string_view bytes, std::vector<std::string_view>& pieces,
               std::size_t& consumed, ParseError& err, bool request) {
  consumed = 0;
  if (parser.is_done()) return Parse::kDone;
  seen.pieces = &pieces;
  parser.eager(true);
  while (consumed < bytes.size() && !parser.is_done()) {
    error_code ec;
    std::size_t n =
        parser.put(boost::asio::const_buffer(bytes.data() + consumed, bytes.size() - consumed), ec);
    consumed += n;
    if (ec == http::error::need_more) break;
    if (ec) {
      err = beast_error(ec, request);
      return Parse::kError;
    }
    if (n == 0) break;
  }
  return parser.is_done() ? Parse::kDone : Parse::kNeedMore;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct RequestParser::Impl {
  explicit Impl(const Limits& l) : limits(l) {}
  Limits limits;
  RequestHead head;
  Seen seen;
  HeadScan scan;
  ParseError error;
  std::optional<BeastParser<true, RequestHead>> parser;

  void reset() {
    head.fields.clear();
    auto fields = std::move(head.fields);  // keep the vector's capacity across requests
    head = RequestHead{};
    head.fields = std::move(fields);
    seen.clear();
    scan = HeadScan{};
    error = ParseError{};
    parser.emplace(head, seen, limits.max_header_count);
    parser->header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser->body_limit(kNoBodyLimit);
    parser->eager(false);
  }

  Parse fail(int status, std::string_view what) {
    error = {status, what};
    return Parse::kError;
  }

  // The checks Beast does not make; sets the head's derived fields.
  Parse validate() {
    if (head.version != 10 && head.version != 11)
      return fail(505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
    if (head.method == "CONNECT") return fail(501, "CONNECT is not supported by this proxy");
    if (!seen.transfer_encoding.empty()) {
      if (head.version == 10) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      std::size_t codings = 0, chunked = 0;
      for_each_token(seen.transfer_encoding, [&](std::string_view t) {
        ++codings;
        if (iequals(t, "chunked")) ++chunked;
      });
      if (codings != chunked) return fail(501, "unsupported transfer coding (only chunked)");
      if (codings != 1) return fail(400, "chunked applied more than once");
    }
    if (seen.hosts > 1) return fail(400, "more than one Host field");
    if (seen.hosts == 1 && !valid_host(seen.host)) return fail(400, "bad Host field");
    if (seen.hosts == 0 && head.version == 11) return fail(400, "no Host field");
    head.authority = seen.host;

    std::string_view t = head.target;
    if (!t.empty() && t.front() == '/') {
      head.path = t;
    } else if (t == "*") {
      if (head.method != "OPTIONS") return fail(400, "'*' is a target for OPTIONS only");
      head.path = t;
    } else {
      // absolute-form (RFC 9112 3.2.2): its authority replaces Host.
      std::size_t scheme = 0;
      if (t.size() > 7 && iequals(t.substr(0, 7), "http://"))
        scheme = 7;
      else if (t.size() > 8 && iequals(t.substr(0, 8), "https://"))
        scheme = 8;
      if (scheme == 0) return fail(400, "bad request target");
      auto rest = t.substr(scheme);
      auto slash = rest.find_first_of("/?#");
      auto authority = rest.substr(0, slash);
      if (!valid_host(authority)) return fail(400, "bad authority in the request target");
      head.authority = authority;
      if (slash == std::string_view::npos)
        head.path = "/";
      else if (rest[slash] == '/')
        head.path = rest.substr(slash);
      else
        return fail(400, "bad request target");
    }
    if (seen.expects > 0) {
      if (seen.expects > 1 || !iequals(seen.expect, "100-continue"))
        return fail(417, "only Expect: 100-continue is supported");
      head.expect_continue = head.version == 11;
    }
    head.chunked = parser->chunked();
    if (auto cl = parser->content_length()) head.content_length = *cl;
    head.keep_alive = parser->keep_alive();
    head.upgrade = parser->upgrade();
    return Parse::kDone;
  }
};

RequestParser::RequestParser(const Limits& limits) : impl_(std::make_unique<Impl>(limits)) {
  impl_->reset();
}
RequestParser::~RequestParser() = default;
void RequestParser::reset() { impl_->reset(); }
RequestHead& RequestParser::head() { return impl_->head; }
const RequestHead& RequestParser::head() const { return impl_->head; }
const ParseError& RequestParser::error() const { return impl_->error; }
bool RequestParser::body_done() const { return impl_->parser->is_done(); }
std::optional<std::uint64_t> RequestParser::body_remaining() const {
  auto r = impl_->parser->content_length_remaining();
  if (!r) return std::nullopt;
  return *r;
}

Parse RequestParser::parse_head(std::string_view bytes) {
  Impl& m = *impl_;
  std::size_t end = 0;
  // Never look past the limit: what lies beyond it cannot change the answer, and the answer
  // must not depend on how many bytes happened to arrive at once (tests/fuzz checks it).
  std::string_view window = bytes.substr(0, m.limits.max_header_bytes + 1);
  Parse s = m.scan.scan(window, end, m.error);
  if (s == Parse::kError) return s;
  if (s == Parse::kNeedMore) {
    if (window.size() > m.limits.max_header_bytes) return m.fail(431, "request head too large");
    return s;
  }
  if (end > m.limits.max_header_bytes) return m.fail(431, "request head too large");
  // Beast refuses versions other than 1.0/1.1 as malformed; a well-formed other version is 505.
  std::string_view line = bytes.substr(0, bytes.find("\r\n"));
  if (line.size() > 9) {
    std::string_view v = line.substr(line.size() - 9);
    bool digits = v[6] >= '0' && v[6] <= '9' && v[8] >= '0' && v[8] <= '9';
    if (v.substr(0, 6) == " HTTP/" && digits && v[7] == '.' && v.substr(6) != "1.0" &&
        v.substr(6) != "1.1")
      return m.fail(505, "only HTTP/1.0 and HTTP/1.1 are spoken here");
  }
  error_code ec;
  std::size_t used = m.parser->put(boost::asio::const_buffer(bytes.data(), end), ec);
  if (ec || used != end || !m.parser->is_header_done()) {
    if (m.seen.too_many) return m.fail(431, "too many header fields");
    m.error = beast_error(ec ? ec : http::error::partial_message, true);
    return Parse::kError;
  }
  m.head.head_bytes = end;
  return m.validate();
}

Parse RequestParser::parse_body(std::string_view bytes, std::vector<std::string_view>& pieces,
                                std::size_t& consumed) {
  return put_body(*impl_->parser, impl_->seen, bytes, pieces, consumed, impl_->error, true);
}

// ---------------------------------------------------------------------------------------------

struct ResponseParser::Impl {
  explicit Impl(const Limits& l) : limits(l) {}
  Limits limits;
  ResponseHead head;
  Seen seen;
  ParseError error;
  bool head_request = false;
  std::optional<BeastParser<false, ResponseHead>> parser;

  void reset(bool for_head) {
    head_request = for_head;
    head.fields.clear();
    auto fields = std::move(head.fields);
    head = ResponseHead{};
    head.fields = std::move(fields);
    seen.clear();
    error = ParseError{};
    parser.emplace(head, seen, limits.max_header_count);
    parser->header_limit(static_cast<std::uint32_t>(limits.max_response_header_bytes));
    parser->body_limit(kNoBodyLimit);
    parser->eager(false);
    parser->skip(for_head);
  }
};

ResponseParser::ResponseParser(const Limits& limits) : impl_(std::make_unique<Impl>(limits)) {
  impl_->reset(false);
}
ResponseParser::~ResponseParser() = default;
void ResponseParser::reset(bool head_request) { impl_->reset(head_request); }
ResponseHead& ResponseParser::head() { return impl_->head; }
const ResponseHead& ResponseParser::head() const { return impl_->head; }
const ParseError& ResponseParser::error() const { return impl_->error; }
bool ResponseParser::body_done() const { return impl_->parser->is_done(); }

Parse ResponseParser::parse_head(std::string_view bytes) {
  Impl& m = *impl_;
  error_code ec;
  std::size_t used = m.parser->put(boost::asio::const_buffer(bytes.data(), bytes.size()), ec);
  if (ec == http::error::need_more) {
    if (bytes.size() > m.limits.max_response_header_bytes) {
      m.error = {502, "response head too large"};
      return Parse::kError;
    }
    return Parse::kNeedMore;
  }
  if (ec) {
    m.error = m.seen.too_many ? ParseError{502, "too many header fields in the response"}
                              : beast_error(ec, false);
    return Parse::kError;
  }
  if (!m.parser->is_header_done()) return Parse::kNeedMore;
  if (m.head.version != 10 && m.head.version != 11) {
    m.error = {502, "the instance answered in an HTTP version other than 1.0/1.1"};
    return Parse::kError;
  }
  m.head.head_bytes = used;
  m.head.chunked = m.parser->chunked();
  if (auto cl = m.parser->content_length()) m.head.content_length = *cl;
  m.head.until_close = m.parser->need_eof();
  int st = m.head.status;
  m.head.no_body = m.head_request || st / 100 == 1 || st == 204 || st == 304;
  m.head.keep_alive = m.parser->keep_alive() && !m.head.until_close;
  return Parse::kDone;
}

Parse ResponseParser::parse_body(std::string_view bytes, std::vector<std::string_view>& pieces,
                                 std::size_t& consumed) {
  return put_body(*impl_->parser, impl_->seen, bytes, pieces, consumed, impl_->error, false);
}

Parse ResponseParser::finish_on_eof() {
  Impl& m = *impl_;
  if (m.parser->is_done()) return Parse::kDone;
  if (!m.parser->got_some()) {
    m.error = {502, "the instance closed the connection without a response"};
    return Parse::kError;
  }
  error_code ec;
  m.parser->put_eof(ec);
  if (ec) {
    m.error = {502, "the instance closed the connection in the middle of its response"};
    return Parse::kError;
  }
  return Parse::kDone;
}

}  // namespace svc::ingress
