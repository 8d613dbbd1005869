// WStunnel's wire format (rightscale/wstunnel, the release of 2020-06-24),
// so that its clients (wstuncli) work with an mnigs gateway unchanged:
//
// - A client opens `GET /_tunnel` as a WebSocket and announces its token as
//   the whole value of its Origin header; a token shorter than 16
//   characters gets 400.
// - HTTP clients name the token in the path, `/_token/<token>/<path>`, or in
//   an `X-Token` header.
// - Each request goes to the client as one binary message: its id as 4
//   lowercase hex digits, then the whole HTTP/1.1 request. The answer is one
//   binary message: the same id, then the whole HTTP/1.1 response.
// - Hop-by-hop headers do not cross the tunnel in either direction.
//
// Everything here is pure: no sockets, no state. Texts of refusals are
// WStunnel's own, so a script written against it reads the same answers.
#pragma once

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <string_view>

namespace mnigs::httptunnel::wstunnel {

namespace http = boost::beast::http;

// A token is 16 to 256 printable ASCII characters without spaces (WStunnel
// asks for 16 at least; the bound on the other side keeps logs and the
// registry small).
constexpr std::size_t kMinTokenLength = 16;
constexpr std::size_t kMaxTokenLength = 256;
constexpr std::size_t kIdSize = 4;
// The id that follows 0x7cff: WStunnel counts ids modulo 32000 per token.
constexpr std::uint16_t kIdModulus = 32000;

// The answers of the health check and what an HTTP client is told.
constexpr std::string_view kHealthBody = "WSTUNSRV RUNNING\n";

// A refusal: an HTTP status and its plain-text body (WStunnel's words).
struct Refusal {
  unsigned status = 0;  // 0: not refused
  std::string body;
  explicit operator bool() const { return status != 0; }
};

// "0001" for 1: four lowercase hex digits.
std::string format_id(std::uint16_t id);
// The id at the start of a message: four hex digits (either case, as
// WStunnel's reader takes them); nullopt when the message is shorter or
// they are not hex.
std::optional<std::uint16_t> parse_id(std::span<const std::uint8_t> message);

// Why `token` cannot name a tunnel, or nothing when it can.
Refusal check_token(std::string_view token);

// The token a tunnel client announced in its upgrade request's Origin.
struct Announced {
  std::string token;
  Refusal refusal;
};
Announced announced_token(const http::fields& headers);

// Where an HTTP client's request goes: the token, and the request target
// for the tunnel client (`/_token/<token>` taken off the front).
struct Routed {
  std::string token;
  std::string target;
  Refusal refusal;
};
// `target` as the request line has it ("/_token/abc.../x?y=1" or "/x").
Routed route(std::string_view target, const http::fields& headers);

// Whether a request with this method may be sent twice (RFC 9110 9.2.2):
// the front retries such a request on another link, the node on a new
// connection to the service.
inline bool idempotent(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::options:
    case http::verb::trace:
    case http::verb::put:
    case http::verb::delete_:
      return true;
    default:
      return false;
  }
}

// Removes the hop-by-hop headers: Connection and the names it lists,
// Keep-Alive, Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE,
// Trailer(s), Transfer-Encoding and Upgrade.
void strip_hop_by_hop(http::fields& headers);

// The request head a tunnel client gets: `head`'s method and headers
// without the hop-by-hop ones, `target` as the request target, HTTP/1.1,
// and the body's framing: Content-Length when `content_length` is known,
// chunked otherwise (when `has_body`). Ends with the empty line. With
// `upgrade` (a WebSocket handshake that is to reach the service) its
// Upgrade header stays, with "Connection: Upgrade".
std::string request_head(const http::request_header<>& head, std::string_view target,
                         bool has_body, std::optional<std::uint64_t> content_length,
                         bool upgrade = false);

// The tunnel client's rule for X-Host (wstuncli's -regexp): where the
// request goes, or why not. `server` is the client's default backend
// ("http://localhost:80", "" for none); `x_host` the header's value if the
// request has one; `allowed` the client's regexp, which must match the
// whole value.
struct Backend {
  std::string base;  // "http://host:port", no trailing slash
  Refusal refusal;
};
Backend choose_backend(std::string_view server, std::optional<std::string_view> x_host,
                       const std::optional<std::regex>& allowed);

// A backend named by a base URL: "http://host[:port][/prefix]".
struct Target {
  std::string host;  // without brackets
  std::uint16_t port = 0;
  std::string authority;  // as the URL writes it: the Host field
  std::string prefix;     // a path the request's target is appended to
};
// nullopt and `why` for what is not such a URL.
std::optional<Target> parse_base(std::string_view url, std::string* why);

}  // namespace mnigs::httptunnel::wstunnel
