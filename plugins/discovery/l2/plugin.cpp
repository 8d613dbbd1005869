// discovery/l2: nodes on plain layer-2 networks (a switched LAN, a bridge, an
// ad-hoc Wi-Fi cell) announce themselves by link-local multicast and hear
// each other's announcements; the scanner probes the nodes heard. The
// protocol lives in l2_discovery.cpp; this file is the plugin's entry point.
#include "l2_discovery.hpp"
#include "settings.hpp"

#include <mnigs/plugin_entry.hpp>

#include <memory>

namespace {

class L2Plugin final : public mnigs::DiscoveryPlugin {
 public:
  static void declare(mnigs::ConfigDeclarer& d) { mnigs::l2::declare_keys(d); }

  explicit L2Plugin(mnigs::PluginContext& ctx)
      : engine_(std::make_shared<mnigs::l2::L2Discovery>(ctx)) {}
  // Closes the sockets even if stop() was never called (the daemon gave up
  // waiting); the engine's handlers hold it weakly, so it goes with us.
  ~L2Plugin() override { engine_->stop(); }

  void start() override { engine_->start(); }
  void stop() override { engine_->stop(); }
  Json::Value status() const override { return engine_->status(); }
  void config_changed() override { engine_->config_changed(); }
  std::string network() const override { return "l2"; }
  void discover(std::function<void(mnigs::Discovery)> done) override { engine_->discover(done); }

 private:
  std::shared_ptr<mnigs::l2::L2Discovery> engine_;
};

}  // namespace

MNIGS_PLUGIN(L2Plugin, "discovery", "l2", "1.0",
             "Nodes on a plain layer-2 network, found by link-local multicast announcements")
