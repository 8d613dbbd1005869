#include "peers.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <charconv>

namespace mnigs::static_discovery {

namespace {
std::optional<std::string> address(std::string_view text) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return a.to_string();
}
}  // namespace

std::optional<Candidate> parse_peer(std::string_view text, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<Candidate> {
    if (why) *why = "\"" + std::string(text) + "\" " + reason;
    return std::nullopt;
  };
  Candidate c;
  c.detail = "static peer";
  std::string_view host = text, port;
  if (!text.empty() && text.front() == '[') {  // [v6]:port
    auto close = text.find(']');
    if (close == std::string_view::npos) return fail("has '[' without ']'");
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("must be [IPv6]:PORT");
      port = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {  // v4:port
    auto colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto addr = address(host);
  if (!addr) return fail("is not an IPv4 or IPv6 address (write ADDRESS, ADDRESS:PORT or [IPv6]:PORT)");
  c.address = *addr;
  if (!port.empty() || (text.size() && text.back() == ':')) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || p != port.data() + port.size() || value < 1 || value > 65535)
      return fail("has a port that is not 1..65535");
    c.port = static_cast<std::uint16_t>(value);
  }
  return c;
}

}  // namespace mnigs::static_discovery
