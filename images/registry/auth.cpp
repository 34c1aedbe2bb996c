#include "images/registry/auth.hpp"

#include <cctype>
#include <cstring>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"

namespace svc::images::registry {

namespace {

std::string normalize_host(std::string key) {
  if (auto p = key.find("://"); p != std::string::npos) key = key.substr(p + 3);
  if (auto slash = key.find('/'); slash != std::string::npos) key = key.substr(0, slash);
  if (key == "index.docker.io" || key == "registry-1.docker.io") key = "docker.io";
  return key;
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string base64_encode(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  while (i + 2 < in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {kB64[v >> 18], kB64[(v >> 12) & 63], kB64[(v >> 6) & 63], kB64[v & 63]};
    i += 3;
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {kB64[v >> 18], kB64[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kB64[v >> 18], kB64[(v >> 12) & 63], kB64[(v >> 6) & 63], '='};
  }
  return out;
}

Result<std::string> base64_decode(std::string_view in) {
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    const char* p = std::strchr(kB64, c);
    int v = -1;
    if (c == '-')
      v = 62;  // base64url
    else if (c == '_')
      v = 63;
    else if (p && c)
      v = static_cast<int>(p - kB64);
    if (v < 0) return fail(Code::kInvalidArgument, "invalid base64");
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  return out;
}

Result<CredentialStore> CredentialStore::load(const std::string& path) {
  auto text = SVC_TRY_CTX(read_file(path, 4 << 20), "registry auth file");
  return SVC_TRY_CTX(parse(text), "registry auth file {}", path);
}

Result<CredentialStore> CredentialStore::parse(std::string_view text) {
  using json = nlohmann::json;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail(Code::kInvalidArgument, "not a JSON object (expected {{\"auths\": {{...}}}})");
  CredentialStore store;
  auto auths = j.find("auths");
  if (auths == j.end()) return store;
  if (!auths->is_object()) return fail(Code::kInvalidArgument, "\"auths\" is not an object");
  for (auto& [key, v] : auths->items()) {
    if (!v.is_object()) continue;
    Credentials c;
    if (auto a = v.find("auth"); a != v.end() && a->is_string() && !a->get<std::string>().empty()) {
      auto decoded = base64_decode(a->get<std::string>());
      if (!decoded) return fail(Code::kInvalidArgument, "auths.\"{}\".auth is not base64", key);
      auto colon = decoded->find(':');
      if (colon == std::string::npos)
        return fail(Code::kInvalidArgument, "auths.\"{}\".auth is not base64(\"user:password\")",
                    key);
      c.username = decoded->substr(0, colon);
      c.password = decoded->substr(colon + 1);
    } else {
      c.username = v.value("username", std::string());
      c.password = v.value("password", std::string());
    }
    if (!c.username.empty()) store.by_host_[normalize_host(key)] = c;
  }
  return store;
}

std::optional<Credentials> CredentialStore::find(std::string_view registry) const {
  if (auto it = by_host_.find(normalize_host(std::string(registry))); it != by_host_.end())
    return it->second;
  return std::nullopt;
}

Result<Challenge> parse_challenge(std::string_view h) {
  Challenge c;
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) ++i;
  };
  skip_ws();
  std::size_t start = i;
  while (i < h.size() && h[i] != ' ') ++i;
  for (char ch : h.substr(start, i - start))
    c.scheme.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  if (c.scheme.empty()) return fail(Code::kInvalidArgument, "empty WWW-Authenticate header");
  while (i < h.size()) {
    skip_ws();
    std::size_t ks = i;
    while (i < h.size() && h[i] != '=' && h[i] != ',' && h[i] != ' ') ++i;
    std::string key;
    for (char ch : h.substr(ks, i - ks))
      key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    skip_ws();
    if (i >= h.size() || h[i] != '=') {
      // A bare token: the start of the next challenge ("Bearer ..., Basic realm=...").
      if (!key.empty() && i < h.size() && h[i] != ',') break;
      if (i < h.size()) ++i;
      if (!key.empty()) break;
      continue;
    }
    ++i;
    skip_ws();
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value.push_back(h[i++]);
      }
      if (i >= h.size())
        return fail(Code::kInvalidArgument, "unterminated quote in WWW-Authenticate");
      ++i;
    } else {
      while (i < h.size() && h[i] != ',') value.push_back(h[i++]);
      while (!value.empty() && value.back() == ' ') value.pop_back();
    }
    if (!key.empty()) c.params[key] = value;
    skip_ws();
    if (i < h.size() && h[i] == ',') ++i;
  }
  return c;
}

}  // namespace svc::images::registry
