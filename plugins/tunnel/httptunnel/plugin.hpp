// tunnel/httptunnel as the daemon sees it: a tunnel plugin that carries no
// sessions (its method is "", so it is in no suite) and serves HTTP
// tunnels instead. On a gateway (httptunnel.listen set) it runs the public
// front, takes nodes' links on /_tunnel (on the daemon's port and on the
// front) and keeps the registry; which secret holds which token or id is
// kept in the plugin's store. See README.md.
//
// Threading: the plugin's strand for the host's calls and the store; the
// front, the links and the registry live on a data thread of their own.
#pragma once

#include "front.hpp"
#include "h2_link.hpp"
#include "node.hpp"
#include "registry.hpp"
#include "settings.hpp"

#include <mnigs/plugin.hpp>

#include <data_thread.hpp>

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>

namespace mnigs::httptunnel {

class HttpTunnelPlugin final : public TunnelPlugin {
 public:
  static void declare(ConfigDeclarer& d) { httptunnel::declare(d); }
  explicit HttpTunnelPlugin(PluginContext& context);
  ~HttpTunnelPlugin() override;

  void start() override;
  void stop() override;
  void config_changed() override;
  Json::Value status() const override;
  // Gateway side: where its public front is reached, for the offer.
  std::string announce() const override;

  // No sessions: the method is in no suite.
  std::string method() const override { return ""; }
  void open_session(const TunnelSession&,
                    std::function<void(std::string, Json::Value)> done) override;
  void close_session(const TunnelSession&, Done done) override { done(""); }
  void connect(const TunnelSession&, Done done) override;
  void disconnect(const TunnelSession&, Done done) override { done(""); }
  void reset(Done done) override { done(""); }

 private:
  // The gateway's side, on the data thread.
  struct Gateway;

  void start_gateway(std::map<std::string, std::string> claims);
  // The node's side: links to each gateway for its token and its id.
  void start_node(const std::string& secret);
  // Stops the node's links and starts them as the settings say now.
  void restart_node();
  // Links to each of `gateways` (for the token and for the id): links to
  // gateways still in the list are kept, the others stopped.
  void link_to(const std::vector<Endpoint>& gateways);
  // The node, with httptunnel.gateways empty: asks which gateways announce
  // HTTP tunnels (now, after each scan and each minute, since offers come
  // from the DHT without an event) and links to the best of them.
  void find_gateways();
  // The node's secret: from secretFile, or the one kept in the store (made
  // on first start); `done(error, secret)` on the strand.
  void load_secret(std::function<void(std::string, std::string)> done);
  Json::Value node_status() const;
  void on_upgrade(HttpUpgrade request);
  // httptunnel.forgetKey (admin): {"id": NAME} or {"token": TOKEN}.
  void forget_key(const Json::Value& params, Responder reply);
  Json::Value gateway_status() const;

  PluginContext& context_;
  Settings settings_;
  std::unique_ptr<tunnels::DataThread> data_;
  std::shared_ptr<Gateway> gateway_;
  std::vector<std::shared_ptr<NodeLink>> node_links_;  // used on the data thread
  std::vector<Endpoint> node_link_gateways_;  // where each of node_links_ goes
  std::string node_secret_;                   // "" until loaded
  std::shared_ptr<HealthChecks> health_;      // used on the data thread
  std::vector<Endpoint> found_;  // what find_gateways chose last
  std::unique_ptr<boost::asio::steady_timer> find_timer_;  // on the strand
  EventBus::Subscription scans_ = 0;
  std::string node_error_;  // why the node's side does not run, for status
  std::uint64_t node_generation_ = 0;  // restart_node() calls, to drop stale secrets
  bool started_ = false;
  // False once stopped: for what the data thread posts to the strand.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // Status, written on the data thread, read on the strand.
  mutable std::mutex status_mutex_;
  Json::Value gateway_status_{Json::objectValue};
};

}  // namespace mnigs::httptunnel
