#include "images/reference.hpp"

#include <cctype>

namespace svc::images {

namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// path-component := alpha-numeric (separator alpha-numeric)*
// separator      := /[_.]|__|[-]*/
// Returns an explanation of the first problem, or "" when the component is valid.
std::string check_path_component(std::string_view c) {
  if (c.empty()) return "is empty (two slashes in a row, or a slash at an end)";
  for (char ch : c)
    if (ch >= 'A' && ch <= 'Z') return "must be lowercase";
  if (!is_lower_alnum(c.front()) || !is_lower_alnum(c.back()))
    return "must start and end with a lowercase letter or digit";
  std::size_t i = 0;
  while (i < c.size()) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    // A separator run: ".", "_", "__", or any number of "-".
    std::size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes))
      return fmt::format(
          "has the separator \"{}\" (allowed: '.', '_', '__' or dashes) or a "
          "character outside [a-z0-9._-]",
          sep);
    i = j;
  }
  return "";
}

// domain := domain-component ('.' domain-component)* (':' port)?   or an IPv6 literal in [].
std::string check_registry(std::string_view host) {
  std::string_view name = host;
  std::string_view port;
  if (host.starts_with('[')) {
    auto close = host.find(']');
    if (close == std::string_view::npos) return "has an unclosed '[' (IPv6 literal)";
    for (char c : host.substr(1, close - 1))
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'))
        return "has an invalid IPv6 literal";
    std::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return "has text after the IPv6 literal";
      port = rest.substr(1);
      if (port.empty()) return "has an empty port";
    }
    name = {};
  } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
    if (port.empty()) return "has an empty port";
  }
  if (!port.empty()) {
    if (port.size() > 5) return fmt::format("has the port \"{}\", larger than 65535", port);
    for (char c : port)
      if (c < '0' || c > '9') return fmt::format("has the port \"{}\", not a number", port);
    if (std::stoi(std::string(port)) > 65535)
      return fmt::format("has the port \"{}\", larger than 65535", port);
  }
  if (host.starts_with('[')) return "";
  if (name.empty()) return "has an empty host name";
  std::size_t start = 0;
  while (start <= name.size()) {
    auto dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty()) return "has an empty label (\"..\" or a dot at an end)";
    if (!is_alnum(label.front()) || !is_alnum(label.back()))
      return fmt::format("has the label \"{}\" that does not start and end with a letter or digit",
                         label);
    for (char c : label)
      if (!is_alnum(c) && c != '-')
        return fmt::format("has the character '{}' (allowed: letters, digits, '-', '.')", c);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return "";
}

// tag := [\w][\w.-]{0,127}
std::string check_tag(std::string_view tag) {
  if (tag.empty()) return "is empty";
  if (tag.size() > 128) return "is longer than 128 characters";
  auto word = [](char c) { return is_alnum(c) || c == '_'; };
  if (!word(tag.front())) return "must start with a letter, a digit or '_'";
  for (char c : tag)
    if (!word(c) && c != '.' && c != '-')
      return fmt::format("has the character '{}' (allowed: letters, digits, '_', '.', '-')", c);
  return "";
}

bool looks_like_registry(std::string_view first) {
  return first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
         first == "localhost" || first.starts_with('[');
}

}  // namespace

std::string Reference::str() const {
  std::string out = name();
  if (!tag.empty()) out += ":" + tag;
  if (digest) out += "@" + digest->str();
  return out;
}

Result<Reference> parse_reference(std::string_view text, std::string_view default_registry) {
  auto bad = [&](std::string_view part, std::string_view value, const std::string& why) {
    return fail(Code::kInvalidArgument, "invalid image reference \"{}\": {} \"{}\" {}", text, part,
                value, why);
  };
  if (text.empty())
    return fail(Code::kInvalidArgument, "invalid image reference: it is empty (try \"alpine:3\")");
  for (char c : text)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return fail(Code::kInvalidArgument,
                  "invalid image reference \"{}\": it contains a space or a control character",
                  text);
  Reference ref;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    std::string_view digest_text = rest.substr(at + 1);
    auto d = Digest::parse(digest_text);
    if (!d) return bad("digest", digest_text, fmt::format("is not valid: {}", d.error().message()));
    ref.digest = *d;
    rest = rest.substr(0, at);
  }
  // The tag is after the last ':' that follows the last '/' (a ':' before it is a port).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (auto why = check_tag(tag); !why.empty()) return bad("tag", tag, why);
    ref.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return bad("name", rest, "is empty");
  std::string_view path = rest;
  auto first_slash = rest.find('/');
  if (first_slash != std::string_view::npos && looks_like_registry(rest.substr(0, first_slash))) {
    std::string_view host = rest.substr(0, first_slash);
    if (auto why = check_registry(host); !why.empty()) return bad("registry", host, why);
    ref.registry = std::string(host);
    path = rest.substr(first_slash + 1);
  } else {
    ref.registry = std::string(default_registry);
  }
  if (ref.registry == "index.docker.io" || ref.registry == "registry-1.docker.io")
    ref.registry = std::string(kDockerHub);
  std::size_t start = 0;
  while (true) {
    auto next = path.find('/', start);
    std::string_view comp =
        path.substr(start, next == std::string_view::npos ? next : next - start);
    if (auto why = check_path_component(comp); !why.empty())
      return bad("repository path component", comp, why);
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  ref.repository = std::string(path);
  if (ref.registry == kDockerHub && ref.repository.find('/') == std::string::npos)
    ref.repository = "library/" + ref.repository;
  if (ref.name().size() > kMaxNameLength)
    return bad("name", ref.name(), fmt::format("is longer than {} characters", kMaxNameLength));
  if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
  return ref;
}

std::string familiar(const Reference& ref) {
  std::string name = ref.name();
  if (ref.registry == kDockerHub) {
    name = ref.repository;
    if (name.starts_with("library/")) name = name.substr(8);
  }
  if (!ref.tag.empty()) name += ":" + ref.tag;
  if (ref.digest) name += "@" + ref.digest->str();
  return name;
}

std::string escape_ref(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (is_lower_alnum(c) || c == '.' || c == '_' || c == '-') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  if (out.starts_with('.')) out = "%2E" + out.substr(1);  // never a hidden or "." / ".." name
  return out;
}

Result<std::string> unescape_ref(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size())
      return fail(Code::kInvalidArgument, "bad escaped reference \"{}\"", text);
    unsigned v = 0;
    for (int k = 1; k <= 2; ++k) {
      char c = text[i + static_cast<std::size_t>(k)];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<unsigned>(c - 'A' + 10);
      else
        return fail(Code::kInvalidArgument, "bad escaped reference \"{}\"", text);
    }
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

}  // namespace svc::images
