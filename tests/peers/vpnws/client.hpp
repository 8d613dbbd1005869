// The wire side of mnigs-test-vpnws-client, a stand-in for vpn-ws's
// vpn-ws-client: its URL form, its upgrade request, its frames, and how it
// reads frames from the server. Written from the behaviour of vpn-ws's
// src/client.c and src/websocket.c (README.md), independently of the
// websocket plugin's own framing, so a mistake in one is not hidden by the
// same mistake in the other.
//
// Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace mnigs::test::vpnws {

// ws://[user:password@]host[:port][/path]; host an IPv4 literal (the
// client resolves names; the tests use none). wss is not offered.
struct Url {
  std::string credentials;  // "user:password", or empty
  std::string host;
  std::uint16_t port = 80;
  bool port_given = false;  // the Host header names the port only then
  std::string path;         // without the leading '/', as the client keeps it
};
std::optional<Url> parse_url(const std::string& text, std::string* why);

std::string base64(const std::uint8_t* data, std::size_t size);

// The request exactly as vpn-ws-client writes it: "GET /path", Host with
// the port only when the URL has one, Basic credentials, a key that is 10
// random bytes in base64, no Sec-WebSocket-Version, X-vpn-ws-MAC in lower
// case hex, and X-vpn-ws-bridge: on last when bridging.
std::string upgrade_request(const Url& url, const std::array<std::uint8_t, 10>& key_bytes,
                            const std::array<std::uint8_t, 6>& mac, bool bridge);

// The status code of an HTTP response head once "\r\n\r\n" has arrived, read
// from the three characters after "HTTP/1.1 "; 0 while the head is not
// complete.
int response_status(const std::string& head);

// A binary frame carrying an Ethernet frame, masked with the connection's
// one mask, as the client sends it (2-byte header under 126 bytes, else
// the 16-bit length form).
std::string binary_frame(const std::uint8_t* payload, std::size_t size,
                         const std::array<std::uint8_t, 4>& mask);

// The ping the client sends after 17 s without anything to do.
inline const std::string kIdlePing("\x89\x00", 2);

// One frame at the front of `buffer`, as the client reads it.
struct Parsed {
  enum class Kind { need_more, data, ignore, close, error };
  Kind kind = Kind::need_more;
  std::size_t consumed = 0;  // the whole frame's size (data and ignore)
  std::string payload;       // unmasked (data)
};
// Data frames (opcodes 0, 1, 2) carry frames for the tap; pings and pongs
// are skipped; close and unknown opcodes end the connection.
Parsed parse_frame(const std::string& buffer);

}  // namespace mnigs::test::vpnws
