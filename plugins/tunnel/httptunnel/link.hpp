// The connection from a node to its gateway, as both ends speak it.
//
// The node opens TCP to the gateway's mnigsd port (or its public front) and
// asks to switch protocols:
//
//   GET /_tunnel HTTP/1.1
//   Host: <gateway>
//   Connection: Upgrade
//   Upgrade: mnigs-httptunnel/1
//   Mnigs-Tunnel-Key: token:<token>        (or id:<id>)
//   Mnigs-Tunnel-Secret: <secret>
//   Mnigs-Tunnel-Services: hello-world,websockets   (id: only)
//
// The gateway answers "101 Switching Protocols" with the same Upgrade, or a
// refusal (4xx with a plain-text sentence). After 101 the connection is
// HTTP/2 (MuxSession, mux.hpp) with the roles turned round: the gateway
// opens a CONNECT stream per request (Role::client), the node answers it
// (Role::server). A stream's :authority names the service, or is
// kTokenAuthority for a token request; its `mnigs-client` field carries
// the HTTP client's address. After the node's 200 the stream carries the
// HTTP/1.1 request one way and the service's response the other, as bytes
// (an upgraded connection's bytes after a 101).
//
// The node pings every third of its ping timeout; either end drops a link
// on which nothing arrived for a whole ping timeout.
#pragma once

#include "wstunnel.hpp"

#include <string>
#include <span>
#include <string_view>
#include <vector>

namespace mnigs::httptunnel::link {

constexpr std::string_view kProtocol = "mnigs-httptunnel/1";
constexpr std::string_view kPath = "/_tunnel";
constexpr std::string_view kKeyField = "Mnigs-Tunnel-Key";
constexpr std::string_view kSecretField = "Mnigs-Tunnel-Secret";
constexpr std::string_view kServicesField = "Mnigs-Tunnel-Services";
// Not a DNS label (it starts with '-'), so no service can be called that.
constexpr std::string_view kTokenAuthority = "-token";
constexpr std::string_view kClientField = "mnigs-client";
// A secret is 16 to 128 printable ASCII characters without spaces.
constexpr std::size_t kMinSecret = 16, kMaxSecret = 128;
constexpr std::size_t kMaxServices = 64;

// Whether `secret` is one: 16 to 128 printable ASCII characters, no spaces.
bool valid_secret(std::string_view secret);

// What the node shows the gateway at `gateway` ("host:port", as dialled)
// instead of its own secret: HMAC-SHA256(secret, gateway) in lowercase hex.
// A gateway learns nothing it could use at another gateway, so a hostile
// one (a node may pick gateways from offers anyone can publish) cannot take
// the node's token or id elsewhere. Nodes sharing a secret still show each
// gateway the same value.
std::string gateway_secret(std::string_view secret, std::string_view gateway);

// Bytes as lowercase hex (digests, MACs).
std::string to_hex(std::span<const unsigned char> bytes);

// What a node asks for.
struct Hello {
  std::string key;     // "token:<token>" or "id:<id>"
  std::string secret;
  std::vector<std::string> services;  // id: the names it serves
};

// The node's upgrade request for `hello`, to `host` (the Host field).
std::string request(const Hello& hello, std::string_view host);

// The gateway's reading of an upgrade request's fields: the hello, or a
// refusal (400 with WStunnel-style plain text).
struct Read {
  Hello hello;
  wstunnel::Refusal refusal;
};
Read read(const wstunnel::http::fields& fields);

// Whether a request's Upgrade field asks for this protocol.
bool wants(const wstunnel::http::fields& fields);

// The gateway's 101 answer.
std::string accept();

}  // namespace mnigs::httptunnel::link
