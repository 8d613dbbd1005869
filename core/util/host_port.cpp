#include "util/host_port.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <charconv>

namespace mnigs {
namespace {

bool is_ip_literal(const std::string& text, bool v6_only) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(text, ec);
  return !ec && (!v6_only || address.is_v6());
}

// Letters, digits, '.', '-' and '_' (resolvers accept the last in names).
bool is_host_name(std::string_view text) {
  return !text.empty() && text.size() <= 253 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
  });
}

// The forms `rules` accept, for the end of a message.
std::string accepted_forms(const HostPortRules& rules) {
  const std::string host = rules.names ? "HOST" : "ADDRESS";
  if (!rules.default_port) return host + ":PORT or [IPv6]:PORT";
  return host + ", " + host + ":PORT or [IPv6]:PORT";
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text, const HostPortRules& rules,
                                        std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<HostPort> {
    if (why) *why = "\"" + std::string(text) + "\" " + reason;
    return std::nullopt;
  };
  const std::string forms = " (write " + accepted_forms(rules) + ")";
  const std::string not_host =
      (rules.names ? "is not a host name or IP address" : "is not an IPv4 or IPv6 address") + forms;
  HostPort out;
  std::string_view port;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return fail("has '[' without ']'");
    out.host = std::string(text.substr(1, close - 1));
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fail("must be [IPv6]:PORT");
      port = rest.substr(1);
      has_port = true;
    }
    if (!is_ip_literal(out.host, true)) return fail(not_host);
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    // An IPv6 address, or an IPv6 address and a port without the brackets.
    if (!rules.bare_ipv6) return fail("must be [IPv6]:PORT");
    out.host = std::string(text);
    if (!is_ip_literal(out.host, true)) return fail(not_host);
  } else {
    const auto colon = text.find(':');
    out.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      has_port = true;
    }
    if (rules.names ? !is_host_name(out.host) : !is_ip_literal(out.host, false))
      return fail(not_host);
  }
  if (!has_port) {
    if (!rules.default_port) return fail("has no port" + forms);
    out.port = *rules.default_port;
    return out;
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
      value > 65535)
    return fail("has a port that is not 1..65535");
  out.port = static_cast<std::uint16_t>(value);
  return out;
}

}  // namespace mnigs
