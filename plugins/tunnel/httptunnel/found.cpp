#include "found.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <limits>
#include <tuple>

namespace mnigs::httptunnel {

std::vector<Endpoint> choose_gateways(const Json::Value& list, std::size_t most) {
  struct Candidate {
    bool scanned;
    bool current;
    double score;
    Endpoint at;
  };
  std::vector<Candidate> found;
  if (!list.isArray()) return {};
  for (const auto& g : list) {
    if (!g.isObject() || !g["services"].isObject() || !g["services"][kServiceName].isString())
      continue;
    if (!g["address"].isString() || !g["port"].isIntegral()) continue;
    const std::string address = g["address"].asString();
    boost::system::error_code ec;
    // A link-local address carries its zone ("fe80::1%eth0"): the resolver
    // takes it as it is.
    boost::asio::ip::make_address(address.substr(0, address.find('%')), ec);
    if (ec || g["port"].asInt64() < 1 || g["port"].asInt64() > 65535) continue;
    Candidate c;
    c.scanned = g["source"].isString() && g["source"].asString().starts_with("scan");
    c.current = g["current"].isBool() && g["current"].asBool();
    c.score = g["score"].isNumeric() ? g["score"].asDouble()
                                     : std::numeric_limits<double>::infinity();
    c.at = {address, static_cast<std::uint16_t>(g["port"].asInt())};
    found.push_back(std::move(c));
  }
  std::sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) {
    return std::tuple(!a.scanned, !a.current, a.score, a.at.host, a.at.port) <
           std::tuple(!b.scanned, !b.current, b.score, b.at.host, b.at.port);
  });
  std::vector<Endpoint> out;
  for (const auto& c : found) {
    if (out.size() >= most) break;
    const bool seen = std::any_of(out.begin(), out.end(), [&](const Endpoint& e) {
      return e.host == c.at.host && e.port == c.at.port;
    });
    if (!seen) out.push_back(c.at);
  }
  return out;
}

std::vector<Endpoint> keep_or_choose(const std::vector<Endpoint>& ranked,
                                     const std::vector<Endpoint>& linked,
                                     const std::vector<Endpoint>& failing, std::size_t most) {
  const auto in = [](const std::vector<Endpoint>& v, const Endpoint& e) {
    return std::any_of(v.begin(), v.end(),
                       [&](const Endpoint& x) { return x.host == e.host && x.port == e.port; });
  };
  std::vector<Endpoint> out;
  for (const auto& e : linked)
    if (out.size() < most && in(ranked, e) && !in(failing, e) && !in(out, e)) out.push_back(e);
  for (const auto& e : ranked)
    if (out.size() < most && !in(failing, e) && !in(out, e)) out.push_back(e);
  // Failing ones rather than none.
  for (const auto& e : ranked)
    if (out.size() < most && !in(out, e)) out.push_back(e);
  return out;
}

}  // namespace mnigs::httptunnel
