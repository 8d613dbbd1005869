#include "wstunnel.hpp"

#include "util/host_port.hpp"

#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <sstream>

namespace mnigs::httptunnel::wstunnel {

namespace {

bool printable_token(std::string_view s) {
  for (const char c : s)
    if (c <= ' ' || c >= 0x7f) return false;
  return true;
}

// Beast (Boost 1.74) speaks boost::string_view.
boost::beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

Refusal refuse(unsigned status, std::string body) { return {status, std::move(body) + "\n"}; }

// X-Host is a base URL ("http://host:port"): a scheme, a host name of at
// most 253 characters and a port; longer than this is none.
constexpr std::size_t kMaxXHost = 300;

}  // namespace

std::string format_id(std::uint16_t id) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(kIdSize, '0');
  for (int i = 3; i >= 0; --i, id >>= 4) out[static_cast<std::size_t>(i)] = hex[id & 0xf];
  return out;
}

std::optional<std::uint16_t> parse_id(std::span<const std::uint8_t> message) {
  if (message.size() < kIdSize) return std::nullopt;
  std::uint16_t id = 0;
  for (std::size_t i = 0; i < kIdSize; ++i) {
    const std::uint8_t c = message[i];
    unsigned digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else return std::nullopt;
    id = static_cast<std::uint16_t>(id << 4 | digit);
  }
  return id;
}

Refusal check_token(std::string_view token) {
  if (token.size() < kMinTokenLength)
    return refuse(400, "Rendez-vous token is too short (must be " +
                           std::to_string(kMinTokenLength) + " chars)");
  if (token.size() > kMaxTokenLength)
    return refuse(400, "Rendez-vous token is too long (at most " +
                           std::to_string(kMaxTokenLength) + " chars)");
  if (!printable_token(token))
    return refuse(400, "Rendez-vous token must be printable ASCII without spaces");
  return {};
}

Announced announced_token(const http::fields& headers) {
  const auto origin = headers.find(http::field::origin);
  if (origin == headers.end())
    return {"", refuse(400, "Origin header with rendez-vous token required")};
  std::string token(origin->value());
  Refusal r = check_token(token);
  if (r) token.clear();
  return {std::move(token), std::move(r)};
}

Routed route(std::string_view target, const http::fields& headers) {
  constexpr std::string_view prefix = "/_token/";
  Routed out;
  if (target.starts_with(prefix)) {
    // "/_token/<token>/<path>": the token ends at the next slash, and a
    // path must follow it.
    const std::string_view rest = target.substr(prefix.size());
    const auto slash = rest.find('/');
    if (slash == 0 || slash == std::string_view::npos) {
      out.refusal = refuse(400, "Missing token in URI");
      return out;
    }
    out.token = std::string(rest.substr(0, slash));
    out.target = std::string(rest.substr(slash));
  } else {
    const auto t = headers.find("X-Token");
    if (t == headers.end()) {
      out.refusal = refuse(400, "Missing X-Token header");
      return out;
    }
    out.token = std::string(t->value());
    out.target = std::string(target);
  }
  if (Refusal r = check_token(out.token)) {
    out.refusal = std::move(r);
    out.token.clear();
    out.target.clear();
  }
  return out;
}

void strip_hop_by_hop(http::fields& headers) {
  // Names listed in Connection are hop-by-hop too (RFC 9110 7.6.1); each
  // Connection header may list several, separated by commas.
  std::vector<std::string> listed;
  const auto [first, last] = headers.equal_range(http::field::connection);
  for (auto it = first; it != last; ++it) {
    const auto value = it->value();
    std::string_view v(value.data(), value.size());
    while (!v.empty()) {
      const auto comma = v.find(',');
      std::string_view name = v.substr(0, comma);
      while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.remove_prefix(1);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      if (!name.empty()) listed.emplace_back(name);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  for (const auto& name : listed) headers.erase(name);
  static constexpr std::array<std::string_view, 10> always = {
      "Connection",          "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
      "Proxy-Authorization", "TE",         "Trailer",          "Trailers",
      "Transfer-Encoding",   "Upgrade"};
  for (const auto name : always) headers.erase(bsv(name));
}

std::string request_head(const http::request_header<>& head, std::string_view target,
                         bool has_body, std::optional<std::uint64_t> content_length,
                         bool upgrade) {
  http::request_header<> out(head);
  out.version(11);
  out.target(bsv(target));
  const std::string protocol(head[http::field::upgrade]);
  strip_hop_by_hop(out);
  if (upgrade && !protocol.empty()) {
    out.set(http::field::upgrade, protocol);
    out.set(http::field::connection, "Upgrade");
  }
  out.erase(http::field::content_length);
  if (content_length) out.set(http::field::content_length, std::to_string(*content_length));
  else if (has_body) out.set(http::field::transfer_encoding, "chunked");
  std::ostringstream s;
  s << out;  // Beast writes the request line, the fields and the empty line
  return s.str();
}

Backend choose_backend(std::string_view server, std::optional<std::string_view> x_host,
                       const std::optional<std::regex>& allowed) {
  if (x_host) {
    if (!allowed)
      return {"", refuse(403, "X-Host header disallowed by wstunnel cli (no -regexp option)")};
    // Bounded before the regexp runs: std::regex backtracks. Only a base
    // URL (scheme and authority, nothing after): what the regexp matched is
    // then exactly where the request goes ("http://127.0.0.1:22/.lan"
    // would match ".*\.lan" and go elsewhere).
    const std::string_view v = *x_host;
    const auto scheme = v.find("://");
    const bool bare = scheme != std::string_view::npos &&
                      v.find_first_of("/?#@", scheme + 3) == std::string_view::npos;
    if (x_host->size() > kMaxXHost || !bare ||
        !std::regex_match(x_host->begin(), x_host->end(), *allowed))
      return {"", refuse(403, "X-Host header '" + std::string(x_host->substr(0, kMaxXHost)) +
                                  "' does not match regexp in wstunnel cli")};
    return {std::string(*x_host), {}};
  }
  if (server.empty())
    return {"", refuse(403, "X-Host header required by wstunnel cli (no -server option)")};
  std::string base(server);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return {std::move(base), {}};
}

std::optional<Target> parse_base(std::string_view url, std::string* why) {
  constexpr std::string_view scheme = "http://";
  if (url.size() < scheme.size() ||
      !std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    *why = "the backend '" + std::string(url) + "' is not an http:// URL";
    return std::nullopt;
  }
  url.remove_prefix(scheme.size());
  const auto slash = url.find('/');
  Target t;
  t.authority = std::string(url.substr(0, slash));
  if (slash != std::string_view::npos) t.prefix = std::string(url.substr(slash));
  while (!t.prefix.empty() && t.prefix.back() == '/') t.prefix.pop_back();
  std::string bad;
  const auto hp = parse_host_port(t.authority, {.default_port = 80, .names = true}, &bad);
  if (!hp) {
    *why = "the backend '" + std::string(scheme) + std::string(url) + "': " + bad;
    return std::nullopt;
  }
  t.host = hp->host;
  t.port = hp->port;
  return t;
}


}  // namespace mnigs::httptunnel::wstunnel
