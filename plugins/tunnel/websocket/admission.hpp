// Who may open the tunnel endpoints: the checks on an upgrade request that
// need no I/O, so their rules are tested on their own.
//
// Browsers: a web page may open a WebSocket to any address, with its
// visitor's cookies and, above all, from its visitor's address, which is
// what `l2Auth: session` trusts. A browser always sends `Origin` on a
// WebSocket upgrade (RFC 6455 4.1, item 8; the Fetch standard); vpn-ws
// clients and mnigs never do. So the tunnel endpoints refuse any upgrade
// that carries one.
//
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "handshake.hpp"

namespace mnigs::websocket {

// "" when the request carries no Origin header; else why it is refused.
std::string browser_refusal(const Headers& headers);

// A web page that holds a session's credentials (the tether page, which got
// them from requestConnection) cannot set X-Mnigs-Session or Authorization
// on a WebSocket. It names them as subprotocols instead, beside
// kPageProtocol, which alone is echoed back:
//   Sec-WebSocket-Protocol: mnigs-l3, mnigs-session.<id>, mnigs-token.<token>
// They are secrets, unlike a visitor's address or cookies, so such a page
// may open the L3 tunnel from any origin. The switch never takes them.
inline constexpr const char* kPageProtocol = "mnigs-l3";
struct PageCredentials {
  std::string session;
  std::string token;
};
struct PageCredentialsResult {
  std::optional<PageCredentials> credentials;  // none sent: both empty
  std::string error;                           // sent, but not as above
};
PageCredentialsResult page_credentials(const Headers& headers);

// Compares in time that depends only on the lengths.
bool constant_time_equal(const std::string& a, const std::string& b);

// What the gateway knows of a session, for the switch's l2Auth: session.
struct SessionKey {
  std::string id;
  std::string token;       // the session's bearer token
  std::string subscriber;  // the subscriber's address, in the form `remote` is given in
};

// Under `l2Auth: session`: the session a switch upgrade joins as, or
// nullopt when it may not join.
// - With a bearer `token`: the session it was issued to, and only that
//   one. When the request names a session (`session_header`, from
//   X-Mnigs-Session), the token must be that session's; a token that is no
//   session's is refused even from a subscriber's address.
// - Without one: the session whose subscriber address is `remote` (the
//   last of `sessions` that matches).
std::optional<std::string> l2_session(std::span<const SessionKey> sessions,
                                      const std::string* session_header, const std::string& token,
                                      const std::string& remote);

}  // namespace mnigs::websocket
