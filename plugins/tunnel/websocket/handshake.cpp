#include "handshake.hpp"

#include <openssl/sha.h>
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace mnigs::websocket {

namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kEndOfHead = "\r\n\r\n";
// A client may send a key of any size as long as it is base64; vpn-ws
// sends 10 bytes, the RFC says 16. More than this is not a key but junk.
constexpr std::size_t kMaxKeyBytes = 64;
constexpr std::size_t kMaxResponseHead = 8192;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(item) for each trimmed, non-empty item of a comma-separated list;
// stops early when f returns true, and returns whether it did.
template <typename F>
bool for_each_item(std::string_view list, F&& f) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    if (!item.empty() && f(item)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// RFC 7230 tchar: what a header name or method may consist of.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c >= 'a' && c <= 'z') continue;
    if (c >= 'A' && c <= 'Z') continue;
    if (c >= '0' && c <= '9') continue;
    if (std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos)
      continue;
    return false;
  }
  return true;
}

bool has_line_break(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// A client's value in an error message: quoted, control characters
// replaced, cut short, so it is safe in a response body and in a log line.
std::string quoted(std::string_view s) {
  constexpr std::size_t kMax = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    out += (c < 0x20 || c == 0x7f || c == '"') ? '?' : static_cast<char>(c);
  }
  if (s.size() > kMax) out += "...";
  out += '"';
  return out;
}

void append_extra(std::string& out, const Headers& extra) {
  for (const auto& [name, value] : extra) {
    // A line break in a field would let it inject fields or a body.
    if (!is_token(name) || has_line_break(value)) {
      throw std::invalid_argument("websocket: header field " + quoted(name) + ": " + quoted(value) +
                                  " holds characters HTTP does not allow");
    }
    out.append(name).append(": ").append(value).append(kCrlf);
  }
}

const char* reason_phrase(int status) {
  switch (status) {
    case 101:
      return "Switching Protocols";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
  }
  return status >= 500 ? "Server Error" : "Client Error";
}

// The common part of requests and responses: start line and fields.
struct Head {
  int status = 0;  // 0: need more (error empty) or parsed (error empty, complete true)
  bool complete = false;
  std::string error;
  std::string_view start_line;
  Headers headers;
  std::size_t consumed = 0;
};

Head parse_head(std::string_view data, std::size_t max_size, int too_large_status) {
  Head h;
  const std::size_t end = data.substr(0, max_size).find(kEndOfHead);
  if (end == std::string_view::npos) {
    if (data.size() >= max_size) {
      h.status = too_large_status;
      h.error = "HTTP head is larger than " + std::to_string(max_size) + " bytes";
    }
    return h;
  }
  h.consumed = end + kEndOfHead.size();
  std::string_view block = data.substr(0, end + kCrlf.size());
  bool first = true;
  while (!block.empty()) {
    const std::size_t eol = block.find(kCrlf);
    const std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol + kCrlf.size());
    if (has_line_break(line)) {
      h.status = 400;
      h.error = "HTTP head has a bare CR or LF";
      return h;
    }
    if (first) {
      h.start_line = line;
      first = false;
      continue;
    }
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      h.status = 400;
      h.error = "HTTP head has a folded header line (obsolete, RFC 7230 3.2.4)";
      return h;
    }
    const std::size_t colon = line.find(':');
    const std::string_view name = colon == std::string_view::npos ? line : line.substr(0, colon);
    if (colon == std::string_view::npos || !is_token(name)) {
      h.status = 400;
      h.error = "HTTP header line " + quoted(line) + " is not \"Name: value\"";
      return h;
    }
    h.headers.emplace_back(std::string(name), std::string(trim(line.substr(colon + 1))));
  }
  h.complete = true;
  return h;
}

int count_headers(const Headers& headers, std::string_view name) {
  int n = 0;
  for (const auto& field : headers)
    if (iequals(field.first, name)) ++n;
  return n;
}

}  // namespace

const std::string* find_header(const Headers& headers, std::string_view name) {
  for (const auto& field : headers)
    if (iequals(field.first, name)) return &field.second;
  return nullptr;
}

std::optional<std::vector<std::string>> header_items(const Headers& headers,
                                                     std::string_view name, std::size_t limit) {
  std::vector<std::string> items;
  bool over = false;
  for (const auto& field : headers) {
    if (!iequals(field.first, name)) continue;
    over = for_each_item(field.second, [&](std::string_view item) {
      if (items.size() == limit) return true;
      items.emplace_back(item);
      return false;
    });
    if (over) return std::nullopt;
  }
  return items;
}

bool has_token(const Headers& headers, std::string_view name, std::string_view token) {
  for (const auto& field : headers) {
    if (!iequals(field.first, name)) continue;
    if (for_each_item(field.second, [&](std::string_view item) { return iequals(item, token); }))
      return true;
  }
  return false;
}

std::string accept_key(std::string_view client_key) {
  std::string input;
  input.reserve(client_key.size() + kGuid.size());
  input.append(client_key).append(kGuid);
  std::array<std::uint8_t, SHA_DIGEST_LENGTH> digest;
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  return base64_encode(digest);
}

ServerUpgrade check_upgrade(std::string_view method, const Headers& headers,
                            const std::vector<std::string>& protocols_offered_by_server) {
  ServerUpgrade u;
  auto refuse = [&u](int status, std::string message) {
    u.ok = false;
    u.status = status;
    u.error = std::move(message);
    return u;
  };

  if (method != "GET") {
    return refuse(400, "method " + quoted(method) + " cannot open a WebSocket; use GET");
  }
  if (!has_token(headers, "Upgrade", "websocket")) {
    const std::string* upgrade = find_header(headers, "Upgrade");
    return refuse(400, upgrade ? "Upgrade is " + quoted(*upgrade) + ", not \"websocket\""
                               : "not a WebSocket request: no \"Upgrade: websocket\" header");
  }
  if (!has_token(headers, "Connection", "upgrade")) {
    const std::string* connection = find_header(headers, "Connection");
    return refuse(400, connection ? "Connection is " + quoted(*connection) +
                                        ", which does not include \"upgrade\""
                                  : "no \"Connection: upgrade\" header");
  }
  // vpn-ws clients send no version at all; anything else must be the RFC's.
  for (const auto& [name, value] : headers) {
    if (iequals(name, "Sec-WebSocket-Version") && trim(value) != "13") {
      return refuse(426, "Sec-WebSocket-Version " + quoted(value) +
                             " is not supported; this server speaks version 13");
    }
  }

  const int keys = count_headers(headers, "Sec-WebSocket-Key");
  if (keys == 0) return refuse(400, "no Sec-WebSocket-Key header");
  if (keys > 1) return refuse(400, "more than one Sec-WebSocket-Key header");
  const std::string_view key = trim(*find_header(headers, "Sec-WebSocket-Key"));
  const auto decoded = base64_decode(key);
  if (!decoded) return refuse(400, "Sec-WebSocket-Key " + quoted(key) + " is not base64");
  if (decoded->empty()) return refuse(400, "Sec-WebSocket-Key is empty");
  if (decoded->size() > kMaxKeyBytes) {
    return refuse(400, "Sec-WebSocket-Key decodes to " + std::to_string(decoded->size()) +
                           " bytes; at most " + std::to_string(kMaxKeyBytes) + " are accepted");
  }

  if (count_headers(headers, "X-vpn-ws-MAC") > 1) {
    return refuse(400, "more than one X-vpn-ws-MAC header");
  }
  if (const std::string* mac_text = find_header(headers, "X-vpn-ws-MAC")) {
    const auto mac = parse_mac(trim(*mac_text));
    if (!mac) {
      return refuse(400, "X-vpn-ws-MAC " + quoted(*mac_text) +
                             " is not a MAC address like aa:bb:cc:dd:ee:ff");
    }
    // The switch drops frames from group or zero sources, so such a peer
    // could never send anything.
    if (!is_unicast(*mac)) {
      return refuse(400, "X-vpn-ws-MAC " + to_string(*mac) +
                             " is a multicast, broadcast or zero address, not a station's own");
    }
    u.mac = mac;
  }
  if (const std::string* bridge = find_header(headers, "X-vpn-ws-bridge")) {
    u.bridge = iequals(trim(*bridge), "on");
  }

  for (const auto& [name, value] : headers) {
    if (!iequals(name, "Sec-WebSocket-Protocol")) continue;
    if (for_each_item(value, [&](std::string_view p) {
          for (const auto& mine : protocols_offered_by_server) {
            if (mine == p) {
              u.protocol = mine;
              return true;
            }
          }
          return false;
        })) {
      break;
    }
  }

  u.accept = accept_key(key);
  u.ok = true;
  u.status = 101;
  u.error.clear();
  return u;
}

std::string response_101(const ServerUpgrade& upgrade, const Headers& extra) {
  if (!upgrade.ok) {
    throw std::invalid_argument("websocket: response_101 for a refused upgrade (" + upgrade.error +
                                ")");
  }
  std::string out;
  out.reserve(160);
  out.append("HTTP/1.1 101 Switching Protocols\r\n");
  out.append("Upgrade: websocket\r\n");
  out.append("Connection: Upgrade\r\n");
  out.append("Sec-WebSocket-Accept: ").append(upgrade.accept).append(kCrlf);
  if (!upgrade.protocol.empty()) {
    out.append("Sec-WebSocket-Protocol: ").append(upgrade.protocol).append(kCrlf);
  }
  append_extra(out, extra);
  out.append(kCrlf);
  return out;
}

std::string response_error(int status, std::string_view message, const Headers& extra) {
  std::string body(message);
  body += '\n';
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  out.append("Content-Type: text/plain; charset=utf-8\r\n");
  out.append("Content-Length: ").append(std::to_string(body.size())).append(kCrlf);
  if (status == 426) {
    // RFC 7231 6.5.15 wants the protocol to upgrade to named, RFC 6455 4.4
    // the versions understood; Upgrade must come with Connection: upgrade.
    out.append("Connection: Upgrade, close\r\n");
    out.append("Upgrade: websocket\r\n");
    out.append("Sec-WebSocket-Version: 13\r\n");
  } else {
    out.append("Connection: close\r\n");
  }
  append_extra(out, extra);
  out.append(kCrlf);
  out.append(body);
  return out;
}

std::string response(const ServerUpgrade& upgrade, const Headers& extra) {
  return upgrade.ok ? response_101(upgrade, extra)
                    : response_error(upgrade.status, upgrade.error, extra);
}

RequestHead parse_request(std::string_view data, std::size_t max_size) {
  RequestHead r;
  Head h = parse_head(data, max_size, 431);
  if (!h.complete) {
    r.status = h.status;
    r.error = std::move(h.error);
    return r;
  }
  r.consumed = h.consumed;
  // method SP request-target SP HTTP-version
  const std::string_view line = h.start_line;
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target =
      sp2 == std::string_view::npos ? std::string_view{} : line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version =
      sp2 == std::string_view::npos ? std::string_view{} : line.substr(sp2 + 1);
  if (!is_token(method) || target.empty() || (version != "HTTP/1.1" && version != "HTTP/1.0")) {
    r.status = 400;
    r.error = "request line " + quoted(line) + " is not \"METHOD /target HTTP/1.1\"";
    return r;
  }
  r.ok = true;
  r.method = method;
  r.target = target;
  r.headers = std::move(h.headers);
  return r;
}

std::string request_refusal(std::string_view target, const Headers& extra) {
  if (target.find_first_of(" \t\r\n") != std::string_view::npos)
    return "the target " + quoted(target) + " holds characters a request line cannot carry";
  for (const auto& [name, value] : extra)
    if (!is_token(name) || has_line_break(value))
      return "header field " + quoted(name) + ": " + quoted(value) +
             " holds characters HTTP does not allow";
  return "";
}

std::string client_request(std::string_view host_header, std::string_view target,
                           std::string_view key_base64, const Headers& extra) {
  if (target.empty()) target = "/";
  if (has_line_break(host_header) || has_line_break(key_base64) ||
      target.find_first_of(" \t\r\n") != std::string_view::npos) {
    throw std::invalid_argument("websocket: host " + quoted(host_header) + ", target " +
                                quoted(target) + " or key hold characters HTTP does not allow");
  }
  std::string out;
  out.reserve(160 + host_header.size() + target.size());
  out.append("GET ").append(target).append(" HTTP/1.1\r\n");
  out.append("Host: ").append(host_header).append(kCrlf);
  out.append("Upgrade: websocket\r\n");
  out.append("Connection: Upgrade\r\n");
  out.append("Sec-WebSocket-Key: ").append(key_base64).append(kCrlf);
  out.append("Sec-WebSocket-Version: 13\r\n");
  append_extra(out, extra);
  out.append(kCrlf);
  return out;
}

std::string random_key() {
  std::array<std::uint8_t, 16> bytes;
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "websocket: getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  return base64_encode(bytes);
}

ClientUpgradeResult parse_response(std::string_view data, std::string_view key,
                                   const std::vector<std::string>& protocols_offered) {
  ClientUpgradeResult r;
  Head h = parse_head(data, kMaxResponseHead, 0);
  if (!h.complete) {
    if (h.status != 0 || !h.error.empty()) r.error = "server's answer: " + h.error;
    return r;
  }
  r.consumed = h.consumed;
  auto fail = [&r](std::string message) {
    r.ok = false;
    r.error = std::move(message);
    return r;
  };

  // HTTP/1.x SP 3DIGIT [SP reason]
  const std::string_view line = h.start_line;
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' ||
      (line.size() > 12 && line[12] != ' ')) {
    return fail("server's answer " + quoted(line) + " is not an HTTP status line");
  }
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') {
      return fail("server's answer " + quoted(line) + " is not an HTTP status line");
    }
    status = status * 10 + (line[i] - '0');
  }
  r.status = status;
  if (status != 101) {
    const std::string_view reason = line.size() > 13 ? line.substr(13) : std::string_view{};
    return fail("server answered " + std::to_string(status) +
                (reason.empty() ? "" : " " + quoted(reason)) +
                " instead of 101 Switching Protocols");
  }
  if (!has_token(h.headers, "Upgrade", "websocket")) {
    return fail("server's 101 answer has no \"Upgrade: websocket\"");
  }
  if (!has_token(h.headers, "Connection", "upgrade")) {
    return fail("server's 101 answer has no \"Connection: upgrade\"");
  }
  const std::string* accept = find_header(h.headers, "Sec-WebSocket-Accept");
  const std::string expected = accept_key(key);
  if (!accept) return fail("server's 101 answer has no Sec-WebSocket-Accept");
  if (*accept != expected) {
    return fail("server's Sec-WebSocket-Accept " + quoted(*accept) +
                " does not match the key sent (expected \"" + expected + "\")");
  }
  // No extension was offered, so the server may not have chosen one.
  if (const std::string* ext = find_header(h.headers, "Sec-WebSocket-Extensions");
      ext && !ext->empty()) {
    return fail("server chose the extension " + quoted(*ext) + ", which was not offered");
  }
  if (const std::string* protocol = find_header(h.headers, "Sec-WebSocket-Protocol")) {
    bool offered = false;
    for (const auto& p : protocols_offered) offered = offered || p == *protocol;
    if (!offered) {
      return fail("server chose the subprotocol " + quoted(*protocol) + ", which was not offered");
    }
    r.protocol = *protocol;
  }
  r.ok = true;
  return r;
}

}  // namespace mnigs::websocket
