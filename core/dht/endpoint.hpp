// Where to reach a DHT node: the text of dht.bootstrap entries and of
// endpoints reported by discovery and scans. No OpenDHT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace mnigs {

// The UDP port a node uses unless configured otherwise (dht.port).
inline constexpr std::uint16_t default_dht_port = 65531;

// "host", "host:port", "1.2.3.4:port", "[v6]:port" or a bare IPv6 literal
// -> (host, port); `default_port` when none is given. nullopt with `why`.
std::optional<std::pair<std::string, std::uint16_t>> parse_dht_endpoint(
    std::string_view text, std::uint16_t default_port, std::string* why = nullptr);

// The endpoint as a log line shows it: "host:port" or "[v6]:port".
std::string endpoint_text(const std::string& host, std::uint16_t port);

}  // namespace mnigs
