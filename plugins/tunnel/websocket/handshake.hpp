// The WebSocket opening handshake (RFC 6455 section 4), both sides, as text
// in and text out, with the vpn-ws extras: the X-vpn-ws-MAC and
// X-vpn-ws-bridge request headers, 10-byte keys and no
// Sec-WebSocket-Version header.
//
// Every function is pure and thread-safe except random_key(), which reads
// the kernel's random pool (thread-safe too).
#pragma once

#include <base64.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mac.hpp"

namespace mnigs::websocket {

// Header fields in the order received: names as sent (compared
// case-insensitively), values without surrounding whitespace.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The value of the first field named `name` (case-insensitive), or nullptr.
const std::string* find_header(const Headers& headers, std::string_view name);
// Whether any field named `name` lists `token` (comma-separated lists,
// case-insensitive), e.g. has_token(h, "Connection", "upgrade").
bool has_token(const Headers& headers, std::string_view name, std::string_view token);
// Every item of every field named `name`, trimmed, in order; empty items
// are left out. At most `limit` items: nullopt when there are more.
std::optional<std::vector<std::string>> header_items(const Headers& headers,
                                                     std::string_view name,
                                                     std::size_t limit = 16);

// base64(SHA-1(client_key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")): the
// Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
std::string accept_key(std::string_view client_key);

// ---- server side ----

struct ServerUpgrade {
  bool ok = false;
  int status = 400;        // 101, or 400 / 426 to refuse with
  std::string error;       // when refused: what was wrong, naming the header and value
  std::string accept;      // Sec-WebSocket-Accept to send
  std::optional<Mac> mac;  // X-vpn-ws-MAC
  bool bridge = false;     // X-vpn-ws-bridge: on
  std::string protocol;    // chosen Sec-WebSocket-Protocol, or ""
};

// Checks an upgrade request. Refused with 400: a method other than GET, no
// "Upgrade: websocket", no "upgrade" token in Connection, a
// Sec-WebSocket-Key missing, repeated, not base64, or decoding to 0 or more
// than 64 bytes (16 is the RFC's size, vpn-ws sends 10), an X-vpn-ws-MAC
// that is not a unicast MAC. Refused with 426: a Sec-WebSocket-Version other
// than 13 (absent is fine: vpn-ws sends none). The subprotocol is the first
// of the client's list that `protocols_offered_by_server` holds (exact
// match); none in common is not an error.
ServerUpgrade check_upgrade(std::string_view method, const Headers& headers,
                            const std::vector<std::string>& protocols_offered_by_server);

// "HTTP/1.1 101 Switching Protocols" with Upgrade, Connection,
// Sec-WebSocket-Accept, Sec-WebSocket-Protocol when chosen, then `extra`;
// ends with CRLFCRLF. Throws std::invalid_argument when !upgrade.ok or a
// field in `extra` holds CR, LF or (in the name) ':' or spaces.
std::string response_101(const ServerUpgrade& upgrade, const Headers& extra = {});

// A refusal: status line, Content-Type: text/plain, Content-Length,
// Connection: close, Sec-WebSocket-Version: 13 for 426, `extra`, and
// `message` plus a newline as the body. Same exceptions for `extra`.
std::string response_error(int status, std::string_view message, const Headers& extra = {});

// response_101 when upgrade.ok, else response_error(status, error).
std::string response(const ServerUpgrade& upgrade, const Headers& extra = {});

// An HTTP/1.x request head, for a server that reads the upgrade itself.
struct RequestHead {
  bool ok = false;
  int status = 0;     // 0: need more bytes (error empty); 400 malformed; 431 too large
  std::string error;  // when status != 0
  std::string method;
  std::string target;
  Headers headers;
  std::size_t consumed = 0;  // bytes of data up to and including CRLFCRLF
};
// Parses the request head at the start of data; bytes after it are not
// looked at. Lines end in CRLF; folded lines are refused.
RequestHead parse_request(std::string_view data, std::size_t max_size = 8192);

// ---- client side ----

// The upgrade request: "GET <target> HTTP/1.1", Host, Upgrade, Connection,
// Sec-WebSocket-Key, Sec-WebSocket-Version: 13, then `extra` (e.g.
// Sec-WebSocket-Protocol, X-vpn-ws-MAC); ends with CRLFCRLF. An empty target
// is "/". Throws std::invalid_argument when host, target or `extra` hold
// CR, LF (or spaces, in the target).
std::string client_request(std::string_view host_header, std::string_view target,
                           std::string_view key_base64, const Headers& extra = {});

// "" when client_request can carry `target` and `extra`, else why not. For
// values that come from elsewhere (a gateway's reply), checked before
// anything is set up, so that client_request never throws on them.
std::string request_refusal(std::string_view target, const Headers& extra = {});

// A fresh Sec-WebSocket-Key: 16 bytes from getrandom(2), base64 (24
// characters). Throws std::system_error if the kernel refuses.
std::string random_key();

struct ClientUpgradeResult {
  bool ok = false;
  int status = 0;            // the server's status code; 0 while more bytes are needed
  std::string error;         // empty while more bytes are needed
  std::string protocol;      // Sec-WebSocket-Protocol chosen by the server, or ""
  std::size_t consumed = 0;  // bytes of data up to and including CRLFCRLF;
                             // what follows is already WebSocket frames
};

// Checks the server's answer to client_request(.., key, ..): need-more
// until CRLFCRLF arrives (more than 8 KiB without it is an error), then
// status 101, "Upgrade: websocket", "upgrade" in Connection,
// Sec-WebSocket-Accept == accept_key(key), and, when the server chose a
// subprotocol, that it is one of `protocols_offered` (RFC 6455 4.1).
ClientUpgradeResult parse_response(std::string_view data, std::string_view key,
                                   const std::vector<std::string>& protocols_offered = {});

}  // namespace mnigs::websocket
