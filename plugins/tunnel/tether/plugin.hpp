// tunnel/tether: a phone's browser carries this node's traffic to a gateway
// (README.md). The node serves the page and its WebSocket (server.hpp),
// pairs one page at a time (pairing.hpp), asks the gateway for a session
// through the page (controller.hpp), and relays packets between its tun
// device and the page (relay.hpp) while the page relays them to the
// gateway's websocket tunnel.
//
// Threading: the plugin's strand, as the host calls it; the server and the
// relay live on a data thread of their own.
#pragma once

#include <atomic>
#include <memory>
#include <mnigs/plugin.hpp>
#include <optional>
#include <string>

#include "command_queue.hpp"
#include "controller.hpp"
#include "data_thread.hpp"
#include "pairing.hpp"
#include "relay.hpp"
#include "server.hpp"
#include "settings.hpp"
#include "tunnel_routes.hpp"

namespace mnigs::tether {

class TetherPlugin final : public TunnelPlugin, private Effects {
 public:
  static void declare(ConfigDeclarer& d) { tether::declare(d); }
  explicit TetherPlugin(PluginContext& context);
  ~TetherPlugin() override;

  void start() override;
  void stop() override;
  void config_changed() override;
  Json::Value status() const override;

  // No sessions of its own to serve: the method is in no suite.
  std::string method() const override { return ""; }
  void open_session(const TunnelSession&,
                    std::function<void(std::string, Json::Value)> done) override {
    done("the tether serves no sessions", Json::Value());
  }
  void close_session(const TunnelSession&, Done done) override { done(""); }
  void connect(const TunnelSession&, Done done) override {
    done("the tether connects through a phone's browser, not by the core (tether.enabled)");
  }
  void disconnect(const TunnelSession&, Done done) override { done(""); }
  void reset(Done done) override { done(""); }

 private:
  // Effects, for the controller.
  void send_to_page(const std::string& text) override;
  void bring_up(const Session& session, const std::string& via,
                std::function<void(std::string error)> done) override;
  void tear_down(std::function<void()> done) override;
  void save_session(const Json::Value& session) override;
  void save_gateway(const std::string& gateway) override;
  std::int64_t unix_now() const override;

  // Serves the page on tether.listen (with a new pairing code); "" or why not.
  std::string enable();
  void disable(std::function<void()> done);
  // Closes the server on the data thread and waits until it is closed.
  void stop_server();
  websocket::Link::Options link_options() const;
  // tether.pairing (admin): the page's URLs and the code; {"renew": true}
  // makes a new code.
  void pairing_method(const Json::Value& params, Responder reply);
  // http://ADDRESS:PORT/#CODE for each address the page is reached at.
  Json::Value urls(const std::string& code) const;

  PluginContext& context_;
  Settings settings_;
  std::unique_ptr<tunnels::DataThread> data_;
  std::shared_ptr<Relay> relay_;
  std::shared_ptr<Server> server_;
  Pairing pairing_;
  netcmd::CommandQueue queue_;
  std::unique_ptr<tunnels::TunnelRoutes> routes_;
  std::unique_ptr<Controller> controller_;
  std::uint64_t page_ = 0;  // the relay's number of the attached page
  bool started_ = false;
  bool serving_ = false;
  std::atomic<bool> turning_off_{false};  // disable() has not finished yet
  bool loaded_ = false;  // the stored session is read
  std::string error_;    // why the page is not served, when enabled
  std::string routed_;   // the device the default route was moved into, "" for none
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mnigs::tether
