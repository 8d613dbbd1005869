#include "subscriber/choice.hpp"

#include "util/net.hpp"

#include <algorithm>

namespace mnigs {

namespace {
bool listed(const std::vector<std::string>& list, const std::string& address,
            const std::string& name, std::size_t* at = nullptr) {
  for (std::size_t i = 0; i < list.size(); ++i)
    if (list[i] == address || (!name.empty() && list[i] == name)) {
      if (at) *at = i;
      return true;
    }
  return false;
}
}  // namespace

std::vector<GatewayChoice> rank_gateways(const Json::Value& gateways, const ChoiceRules& rules,
                                         const std::map<std::string, GatewayQuality>& measured,
                                         std::vector<std::string>* skipped) {
  struct Ranked {
    GatewayChoice choice;
    std::size_t prefer_at;
  };
  std::vector<Ranked> out;
  if (!gateways.isArray()) return {};
  auto skip = [&](const std::string& who, const std::string& why) {
    if (skipped) skipped->push_back(who + ": " + why);
  };
  for (const auto& g : gateways) {
    if (!g.isObject() || !g["address"].isString()) continue;
    auto address = parse_address(g["address"].asString());
    if (!address) continue;
    GatewayChoice c;
    c.address = unmap(*address).to_string();
    c.name = g["name"].isString() ? g["name"].asString() : "";
    c.port = g["port"].isIntegral() && g["port"].asInt64() >= 1 && g["port"].asInt64() <= 65535
                 ? g["port"].asInt()
                 : 65533;
    const std::string who = c.address + (c.name.empty() ? "" : " (" + c.name + ")");
    if (std::find(rules.own_addresses.begin(), rules.own_addresses.end(), c.address) !=
        rules.own_addresses.end())
      continue;  // this host
    if (listed(rules.avoid, c.address, c.name)) {
      skip(who, "on subscriber.avoid");
      continue;
    }
    bool common = false;
    if (g["suites"].isArray())
      for (const auto& s : g["suites"])
        if (s.isString() && std::find(rules.our_suites.begin(), rules.our_suites.end(),
                                      s.asString()) != rules.our_suites.end())
          common = true;
    if (!common) {
      skip(who, "no suite in common");
      continue;
    }
    double price = g["price"].isNumeric() ? g["price"].asDouble() : 0;
    if (price > rules.max_price) {
      skip(who, "price " + g["price"].asString() + " above subscriber.maxPrice");
      continue;
    }
    // Nothing goes through before someone pays on its page: only for a
    // subscriber that accepts paying at all.
    if (g["paymentRequired"].isBool() && g["paymentRequired"].asBool() && rules.max_price <= 0) {
      skip(who, "payment required and subscriber.maxPrice is 0");
      continue;
    }
    double load = 0;
    const Json::Value& cap = g["capacity"];
    if (cap.isObject() && cap["maxConnections"].isIntegral() && cap["sessions"].isIntegral() &&
        cap["maxConnections"].asInt64() > 0) {
      double max = static_cast<double>(cap["maxConnections"].asInt64());
      double used = static_cast<double>(cap["sessions"].asInt64());
      if (used >= max) {
        skip(who, "full");
        continue;
      }
      load = std::clamp(used / max, 0.0, 1.0);
    }
    double rtt = 100;
    double loss = 0;
    const Json::Value& tested = g["lastTest"];
    if (auto m = measured.find(c.address); m != measured.end() && m->second.rtt_ms) {
      rtt = *m->second.rtt_ms;
      loss = m->second.loss;
    } else if (tested.isObject() && tested["rttMs"]["median"].isNumeric() &&
               tested["loss"].isNumeric()) {  // the last testGateway, kept in SQLite
      rtt = std::max(0.0, tested["rttMs"]["median"].asDouble());
      loss = std::clamp(tested["loss"].asDouble(), 0.0, 1.0);
    } else if (g["rtt"].isNumeric() && g["rtt"].asDouble() > 0) {
      rtt = g["rtt"].asDouble();
    }
    c.score = rtt + 1000 * loss + 50 * load;
    if (g["current"].isBool() && !g["current"].asBool()) c.score += 100;
    std::size_t at = rules.prefer.size();
    c.preferred = listed(rules.prefer, c.address, c.name, &at);
    c.prefer_at = at;
    out.push_back({c, at});
  }
  std::stable_sort(out.begin(), out.end(), [](const Ranked& a, const Ranked& b) {
    if (a.prefer_at != b.prefer_at) return a.prefer_at < b.prefer_at;
    return a.choice.score < b.choice.score;
  });
  std::vector<GatewayChoice> ranked;
  for (auto& r : out) ranked.push_back(std::move(r.choice));
  return ranked;
}

}  // namespace mnigs
