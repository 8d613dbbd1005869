#include "tunnel_routes.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <memory>
#include <utility>

namespace mnigs::tunnels {

using netcmd::Command;
using netcmd::Family;

namespace {
constexpr Family kFamilies[] = {Family::v4, Family::v6};
}

std::vector<Command> device_setup(const std::string& dev, int mtu, const Json::Value& p) {
  auto ip = [](std::vector<std::string> argv) {
    Command c;
    c.argv = std::move(argv);
    c.argv.insert(c.argv.begin(), "ip");
    return c;
  };
  std::vector<Command> steps;
  steps.push_back(ip({"link", "set", "dev", dev, "addrgenmode", "none"}));
  steps.back().best_effort = true;  // a kernel without IPv6 refuses it
  steps.push_back(ip({"link", "set", "dev", dev, "mtu", std::to_string(mtu), "up"}));
  if (p["address4"].isString())
    steps.push_back(ip({"-4", "addr", "replace",
                        p["address4"].asString() + "/" +
                            std::to_string(p.get("prefix4", 24).asInt()),
                        "dev", dev, "noprefixroute"}));
  if (p["address6"].isString())
    steps.push_back(ip({"-6", "addr", "replace",
                        p["address6"].asString() + "/" +
                            std::to_string(p.get("prefix6", 64).asInt()),
                        "dev", dev, "nodad", "noprefixroute"}));
  return steps;
}

Command loose_reverse_path(const std::string& dev) {
  // Interface names may hold dots, which sysctl(8) reads as separators.
  std::string knob = dev;
  std::replace(knob.begin(), knob.end(), '.', '/');
  Command c;
  c.argv = {"sysctl", "-w", "net.ipv4.conf." + knob + ".rp_filter=2"};
  return c;
}

bool TunnelRoutes::holds(const std::string& key) const {
  return std::find(routed_.begin(), routed_.end(), key) != routed_.end();
}

void TunnelRoutes::take(const std::string& key, const std::string& device,
                        std::array<bool, 2> families, const std::string& gateway,
                        std::function<std::string(const std::string&)> device_of,
                        std::function<bool(const std::string&)> own_device, Done done,
                        std::array<std::string, 2> sources) {
  std::vector<Command> steps;
  // What table T held before, per family: put back if this fails.
  auto before = std::make_shared<std::array<std::string, 2>>(routed_);
  for (auto f : kFamilies) {
    if (!families[netcmd::index_of(f)]) continue;
    steps.push_back(
        netcmd::replace_default_dev(f, device, table_, sources[netcmd::index_of(f)]));
    if (!routed_[netcmd::index_of(f)].empty()) continue;  // the rules are there
    // Rules left by an earlier run would stack up; take them away first.
    steps.push_back(netcmd::delete_rules_at(f, priority_, 1));
    steps.push_back(netcmd::delete_rules_at(f, priority_ + 1, 1));
    steps.push_back(netcmd::add_suppress_rule(f, priority_));
    steps.push_back(netcmd::add_table_rule(f, priority_ + 1, table_));
  }
  auto fail = [this, before, families, device_of, done](const std::string& why) {
    queue_.run_all(restore(*before, families, device_of), true,
                   [this, before, done, why](std::string) {
                     routed_ = *before;
                     done(why);
                   });
  };
  queue_.run_steps(std::move(steps), [this, key, families, gateway, own_device, fail,
                                      done](std::string error) {
    if (!error.empty()) return fail(error);
    for (auto f : kFamilies)
      if (families[netcmd::index_of(f)]) routed_[netcmd::index_of(f)] = key;
    // The gateway must stay reachable through the mesh, not through a
    // tunnel's default route: checked once the routes are in place.
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(gateway, ec);
    if (ec) return done("");
    netcmd::Address gw{address.is_v4() ? Family::v4 : Family::v6, gateway};
    Command get = netcmd::route_get(gw);
    queue_.run(get, [this, gw, get, own_device, fail, done](const CommandOutcome& o) {
      std::string why;
      if (!netcmd::succeeded(o)) return fail(netcmd::failure_sentence(get, o));
      auto hop = netcmd::parse_route_get(o.out, gw, table_, &why);
      if (!hop) return fail(why);
      if (own_device(hop->dev))
        return fail("the gateway " + gw.text +
                    " is reachable only through a tunnel: it needs a mesh route");
      done("");
    });
  });
}

std::vector<Command> TunnelRoutes::restore(
    const std::array<std::string, 2>& before, std::array<bool, 2> families,
    const std::function<std::string(const std::string&)>& device_of) const {
  std::vector<Command> c;
  for (auto f : kFamilies) {
    if (!families[netcmd::index_of(f)]) continue;
    const std::string& owner = before[netcmd::index_of(f)];
    if (std::string prev = owner.empty() ? "" : device_of(owner); !prev.empty()) {
      c.push_back(netcmd::replace_default_dev(f, prev, table_));
      continue;
    }
    c.push_back(netcmd::delete_rules_at(f, priority_, 1));
    c.push_back(netcmd::delete_rules_at(f, priority_ + 1, 1));
    c.push_back(netcmd::flush_table(f, table_));
  }
  for (auto& command : c) command.removal = true;
  return c;
}

std::vector<Command> TunnelRoutes::release(const std::string& key) {
  std::vector<Command> c;
  for (auto f : kFamilies) {
    auto& owner = routed_[netcmd::index_of(f)];
    if (owner != key) continue;
    owner.clear();
    c.push_back(netcmd::delete_rules_at(f, priority_, 1));
    c.push_back(netcmd::delete_rules_at(f, priority_ + 1, 1));
    c.push_back(netcmd::flush_table(f, table_));
  }
  return c;
}

std::vector<Command> TunnelRoutes::removal(unsigned repeat) {
  routed_ = {};
  std::vector<Command> c;
  for (auto f : kFamilies) {
    c.push_back(netcmd::delete_rules_at(f, priority_, repeat));
    c.push_back(netcmd::delete_rules_at(f, priority_ + 1, repeat));
    c.push_back(netcmd::flush_table(f, table_));
  }
  return c;
}

}  // namespace mnigs::tunnels
