#include "found.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <limits>
#include <tuple>

namespace mnigs::httptunnel {

std::vector<Endpoint> choose_gateways(const Json::Value& list, std::size_t most) {
  struct Candidate {
    bool current;
    double score;
    std::int64_t age;
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
    c.current = g["current"].isBool() && g["current"].asBool();
    c.score = g["score"].isNumeric() ? g["score"].asDouble()
                                     : std::numeric_limits<double>::infinity();
    c.age = g["age"].isIntegral() ? g["age"].asInt64() : std::numeric_limits<std::int64_t>::max();
    c.at = {address, static_cast<std::uint16_t>(g["port"].asInt())};
    found.push_back(std::move(c));
  }
  std::sort(found.begin(), found.end(), [](const Candidate& a, const Candidate& b) {
    return std::tuple(!a.current, a.score, a.age, a.at.host, a.at.port) <
           std::tuple(!b.current, b.score, b.age, b.at.host, b.at.port);
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

}  // namespace mnigs::httptunnel
