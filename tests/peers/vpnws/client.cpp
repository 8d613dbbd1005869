#include "client.hpp"

#include <arpa/inet.h>

#include <cstdio>

namespace mnigs::test::vpnws {

std::optional<Url> parse_url(const std::string& text, std::string* why) {
  const std::string scheme = "ws://";
  if (text.rfind(scheme, 0) != 0) {
    *why = "the url must start with ws:// (got \"" + text + "\")";
    return std::nullopt;
  }
  Url url;
  std::string rest = text.substr(scheme.size());
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    url.path = rest.substr(slash + 1);
    rest.resize(slash);
  }
  if (auto at = rest.find('@'); at != std::string::npos) {
    url.credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  if (auto colon = rest.find(':'); colon != std::string::npos) {
    const std::string port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) < 1 ||
        std::stoi(port) > 65535) {
      *why = "bad port \"" + port + "\"";
      return std::nullopt;
    }
    url.port = static_cast<std::uint16_t>(std::stoi(port));
    url.port_given = true;
    rest.resize(colon);
  }
  in_addr a{};
  if (::inet_pton(AF_INET, rest.c_str(), &a) != 1) {
    *why = "the host must be an IPv4 address (got \"" + rest + "\")";
    return std::nullopt;
  }
  url.host = rest;
  return url;
}

std::string base64(const std::uint8_t* data, std::size_t size) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < size; i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(data[i]) << 16;
    if (i + 1 < size) v |= static_cast<std::uint32_t>(data[i + 1]) << 8;
    if (i + 2 < size) v |= data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < size ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < size ? alphabet[v & 63] : '=';
  }
  return out;
}

std::string upgrade_request(const Url& url, const std::array<std::uint8_t, 10>& key_bytes,
                            const std::array<std::uint8_t, 6>& mac, bool bridge) {
  char mac_text[18];
  std::snprintf(mac_text, sizeof mac_text, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                mac[3], mac[4], mac[5]);
  std::string r = "GET /" + url.path + " HTTP/1.1\r\nHost: " + url.host;
  if (url.port_given) r += ":" + std::to_string(url.port);
  r += "\r\n";
  if (!url.credentials.empty())
    r += "Authorization: Basic " +
         base64(reinterpret_cast<const std::uint8_t*>(url.credentials.data()),
                url.credentials.size()) +
         "\r\n";
  r += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
       base64(key_bytes.data(), key_bytes.size()) + "\r\nX-vpn-ws-MAC: " + mac_text;
  if (bridge) r += "\r\nX-vpn-ws-bridge: on";
  return r + "\r\n\r\n";
}

int response_status(const std::string& head) {
  if (head.size() < 17 || head.find("\r\n\r\n") == std::string::npos) return 0;
  int code = 0;
  for (std::size_t i = 9; i < 12; ++i) code = code * 10 + (head[i] - '0');
  return code;
}

std::string binary_frame(const std::uint8_t* payload, std::size_t size,
                         const std::array<std::uint8_t, 4>& mask) {
  std::string f;
  f += static_cast<char>(0x82);
  if (size < 126) {
    f += static_cast<char>(0x80 | size);
  } else {
    f += static_cast<char>(0x80 | 126);
    f += static_cast<char>((size >> 8) & 0xff);
    f += static_cast<char>(size & 0xff);
  }
  f.append(reinterpret_cast<const char*>(mask.data()), mask.size());
  for (std::size_t i = 0; i < size; ++i) f += static_cast<char>(payload[i] ^ mask[i % 4]);
  return f;
}

Parsed parse_frame(const std::string& buffer) {
  Parsed p;
  if (buffer.size() < 2) return p;
  const auto* b = reinterpret_cast<const std::uint8_t*>(buffer.data());
  const int opcode = b[0] & 0x0f;
  const bool masked = b[1] & 0x80;
  std::uint64_t length = b[1] & 0x7f;
  std::size_t need = 2;
  if (length == 126) {
    need += 2;
    if (buffer.size() < need) return p;
    length = (std::uint64_t(b[2]) << 8) | b[3];
  } else if (length == 127) {
    need += 8;
    if (buffer.size() < need) return p;
    length = 0;
    for (int i = 2; i < 10; ++i) length = (length << 8) | b[i];
  }
  std::array<std::uint8_t, 4> mask{};
  if (masked) {
    need += 4;
    if (buffer.size() < need) return p;
    for (int i = 0; i < 4; ++i) mask[i] = b[need - 4 + i];
  }
  // Frames larger than anything a switch sends are a broken stream.
  if (length > (1u << 20)) {
    p.kind = Parsed::Kind::error;
    return p;
  }
  if (buffer.size() < need + length) return p;
  p.consumed = need + static_cast<std::size_t>(length);
  switch (opcode) {
    case 0:
    case 1:
    case 2:
      p.kind = Parsed::Kind::data;
      p.payload = buffer.substr(need, static_cast<std::size_t>(length));
      if (masked)
        for (std::size_t i = 0; i < p.payload.size(); ++i) p.payload[i] ^= mask[i % 4];
      return p;
    case 8:
      p.kind = Parsed::Kind::close;
      return p;
    case 9:
    case 10:
      p.kind = Parsed::Kind::ignore;
      return p;
    default:
      p.kind = Parsed::Kind::error;
      return p;
  }
}

}  // namespace mnigs::test::vpnws
