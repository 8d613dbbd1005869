#include "view.hpp"

#include "util/net.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>

namespace mnigs::olsr {

void View::add_link(const std::string& from, const std::string& to, std::uint32_t cost) {
  for (const auto& l : links)
    if (l.from == from && l.to == to) return;
  links.push_back(Link{from, to, cost});
}

void View::set_hops(const std::string& address, std::uint32_t hops) {
  auto& n = node(address);
  if (hops != 0 && (n.hops == 0 || hops < n.hops)) n.hops = hops;
}

std::optional<std::string> canonical_address(std::string_view text) {
  // make_address accepts "fe80::1%eth0"; daemons print addresses without
  // zones, so a '%' here is not an address we could use as a node id.
  if (text.empty() || text.size() > 64 || text.find('%') != std::string_view::npos)
    return std::nullopt;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return a.to_string();
}

bool is_default_route(std::string_view address, int prefix_length) {
  // A /0 covers every address whatever its address bits say; daemons print
  // 0.0.0.0 or ::, but the length is what makes it a default route.
  return prefix_length == 0 && canonical_address(address).has_value();
}

bool is_default_route(std::string_view prefix) {
  auto p = parse_prefix(prefix, nullptr, {.bare_address = false, .host_bits = true});
  return p && p->length == 0;
}

namespace {

bool is_link_local_v6(const std::string& address) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(address, ec);
  return !ec && a.is_v6() && a.to_v6().is_link_local();
}

// The address as a scanner can dial it, or "" when it cannot be dialled.
std::string dialable(const std::string& address, const std::string& zone) {
  if (!is_link_local_v6(address)) return address;
  return zone.empty() ? std::string() : address + "%" + zone;
}

}  // namespace

Discovery to_discovery(const View& view, const std::string& detail) {
  Discovery d;
  for (const auto& [address, facts] : view.nodes) {
    std::uint32_t distance = facts.hops ? facts.hops : (facts.neighbour ? 1 : 0);
    std::vector<std::string> addresses{address};
    addresses.insert(addresses.end(), facts.aliases.begin(), facts.aliases.end());
    for (const auto& a : addresses) {
      std::string target = dialable(a, facts.zone);
      if (target.empty()) continue;
      Candidate c;
      c.address = target;
      c.node = address;
      c.detail = detail;
      c.gateway = facts.gateway;
      c.distance = distance;
      d.candidates.push_back(std::move(c));
    }
  }
  d.links = view.links;
  return d;
}

}  // namespace mnigs::olsr
