// discovery/static: neighbours listed in the config. For nodes with fixed
// neighbours (a rooftop link, a wired uplink) and for tests; the scanner
// treats them like peers any other discovery plugin reports.
#include "peers.hpp"

#include <mnigs/plugin_entry.hpp>

#include <algorithm>

namespace {

using mnigs::Candidate;

class StaticDiscovery final : public mnigs::DiscoveryPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer& d) {
    d.declare(mnigs::list_key("peers", mnigs::ValueType::string_list, {},
                              "Nodes to probe: ADDRESS, ADDRESS:PORT or [IPv6]:PORT; without a "
                              "port every daemon.scanports port is tried",
                              true));
    d.declare(mnigs::string_key("network", "static",
                                "Network name used in suites (e.g. babel when the peers are "
                                "babel neighbours)"));
  }

  explicit StaticDiscovery(mnigs::PluginContext& ctx) : ctx_(ctx) {}

  void start() override {
    std::vector<std::string> errors;
    peers_ = parse(ctx_.config()["peers"], errors);
    if (!errors.empty()) throw std::runtime_error("static.peers: " + errors.front());
    network_ = ctx_.config()["network"].asString();
    ctx_.log().info(peers_.size(), " static peer(s)");
    ctx_.register_method("listPeers", mnigs::Access::admin,
                         [this](const Json::Value&, const mnigs::CallInfo&, mnigs::Responder r) {
                           r.result(status());
                         });
  }

  void config_changed() override {
    std::vector<std::string> errors;
    auto peers = parse(ctx_.config()["peers"], errors);
    if (!errors.empty()) {
      ctx_.log().error("static.peers: ", errors.front(), "; keeping the previous list");
      return;
    }
    peers_ = std::move(peers);
    ctx_.log().info("static peers now ", peers_.size());
  }

  std::string network() const override { return network_.empty() ? "static" : network_; }

  void discover(std::function<void(mnigs::Discovery)> done) override {
    mnigs::Discovery d;
    d.candidates = peers_;
    done(std::move(d));
  }

  Json::Value status() const override {
    Json::Value s(Json::objectValue);
    Json::Value list(Json::arrayValue);
    for (const auto& p : peers_) {
      Json::Value e(Json::objectValue);
      e["address"] = p.address;
      e["port"] = p.port;
      list.append(e);
    }
    s["peers"] = list;
    return s;
  }

 private:
  static std::vector<Candidate> parse(const Json::Value& list, std::vector<std::string>& errors) {
    std::vector<Candidate> out;
    for (const auto& item : list) {
      std::string why;
      if (auto c = mnigs::static_discovery::parse_peer(item.asString(), &why)) out.push_back(*c);
      else errors.push_back(why);
    }
    return out;
  }

  mnigs::PluginContext& ctx_;
  std::vector<Candidate> peers_;
  std::string network_;
};

}  // namespace

MNIGS_PLUGIN(StaticDiscovery, "discovery", "static", "1.0", "Neighbours listed in the config")
