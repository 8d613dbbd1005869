// tunnel/forwarding: the "simple forwarding" tunnel. No encapsulation: the
// gateway forwards and masquerades packets whose source is a subscriber's
// mesh address, and the subscriber points its default route at the gateway
// with policy routing, so the mesh routes keep working.
//
// The plugin object joins the gateway side (gateway.hpp) and the subscriber
// side (subscriber.hpp), which share one CommandQueue: every operation's
// commands run in order and operations never interleave.
//
// Threading: the host calls every method on the plugin's strand, and the
// commands complete there; no locks.
#pragma once

#include "common.hpp"
#include "gateway.hpp"
#include "settings.hpp"
#include "subscriber.hpp"

#include <mnigs/plugin.hpp>

#include <chrono>
#include <string>

namespace mnigs::forwarding {

// Longest any one ip/nft/sysctl call may take before it is killed.
inline constexpr std::chrono::milliseconds kCommandTimeout{10000};
// reset() deletes rules at each of its priorities until none is left, at
// most this many per priority and family.
inline constexpr unsigned kResetRepeat = 16;
// stop() cannot look at outcomes, so it issues that many deletions blindly.
inline constexpr unsigned kStopRepeat = 4;

class ForwardingTunnel final : public TunnelPlugin {
 public:
  static void declare(ConfigDeclarer& declarer) { declare_keys(declarer); }

  explicit ForwardingTunnel(PluginContext& context);

  // Reads and checks the config; throws std::runtime_error naming the key
  // when it is not usable (e.g. table 254).
  void start() override;
  // Cancels the operations in progress (their callers get an error) and
  // hands every removal command of reset() to PluginContext::run at once,
  // without waiting: the host runs them in order and waits for them before
  // it exits (PluginHost::drain_commands). Rule deletions are issued
  // kStopRepeat times each instead of "until none is left". Issues nothing
  // when a reset() finished cleanly and no session was set up since (the
  // daemon resets every tunnel plugin just before stopping it).
  void stop() override;
  // {"method", "uplink", "table", "priority", "restrict", "pendingOperations",
  //  "gateway": {...}, "subscriber": {...}}
  Json::Value status() const override;
  // forwarding.restrict changed: rewrites the gateway's table if it exists.
  void config_changed() override;

  std::string method() const override { return "forwarding"; }

  void open_session(const TunnelSession& session,
                    std::function<void(std::string error, Json::Value params)> done) override;
  void close_session(const TunnelSession& session, Done done) override;
  void connect(const TunnelSession& session, Done done) override;
  void disconnect(const TunnelSession& session, Done done) override;
  // A session connected with routing "none" is only recorded (the gateway
  // forwards for its address all the same), and one connected again with
  // "default" takes table T from the session that had it (subscriber.hpp).
  bool supports_standby() const override { return true; }
  // Deletes the nft table, turns back off the forwarding sysctls this plugin
  // turned on (in this run or, per its store, an earlier one), deletes every
  // rule at priority P and P+1 and flushes table T for both families, then
  // forgets all sessions. Only unexpected failures are reported; what is
  // already gone, or a tool that is not installed, is fine.
  void reset(Done done) override;

 private:
  bool running(const std::string& what, const Done& done) const;

  PluginContext& context_;
  Settings settings_;
  bool started_ = false;
  // A reset finished without error and nothing was set up since.
  bool clean_ = false;
  CommandQueue queue_;
  Gateway gateway_;
  Subscriber subscriber_;
};

}  // namespace mnigs::forwarding
