#include "peers.hpp"

#include "util/host_port.hpp"

#include <boost/asio/ip/address.hpp>

namespace mnigs::static_discovery {

std::optional<Candidate> parse_peer(std::string_view text, std::string* why) {
  // No port: the scanner probes every port in daemon.scanports (port 0).
  auto parsed = parse_host_port(text, {.default_port = 0, .bare_ipv6 = true}, why);
  if (!parsed) return std::nullopt;
  Candidate c;
  c.detail = "static peer";
  c.address = boost::asio::ip::make_address(parsed->host).to_string();
  c.port = parsed->port;
  return c;
}

}  // namespace mnigs::static_discovery
