#include "dht/endpoint.hpp"

#include "util/host_port.hpp"

namespace mnigs {

std::optional<std::pair<std::string, std::uint16_t>> parse_dht_endpoint(
    std::string_view text, std::uint16_t default_port, std::string* why) {
  auto parsed = parse_host_port(
      text, {.default_port = default_port, .bare_ipv6 = true, .names = true}, why);
  if (!parsed) return std::nullopt;
  return std::make_pair(std::move(parsed->host), parsed->port);
}

std::string endpoint_text(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace mnigs
