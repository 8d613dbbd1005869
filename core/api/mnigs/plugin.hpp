// The plugin interface: what a plugin implements and what the host gives it.
// A plugin includes only headers from this folder.
//
// Threading: every call the host makes into a plugin (start, stop, status,
// config_changed, the kind-specific calls) runs on the plugin's own strand,
// `PluginContext::executor()`. The plugin posts its own async work there too,
// so its state needs no locks.
#pragma once

#include <mnigs/config_decl.hpp>
#include <mnigs/events.hpp>
#include <mnigs/log.hpp>
#include <mnigs/rpc_api.hpp>
#include <mnigs/store_api.hpp>
#include <mnigs/upgrade.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mnigs {

class DiscoveryPlugin;
class TunnelPlugin;
class PaymentPlugin;
class GatewayPayments;

// The outcome of a command run through PluginContext::run.
struct CommandOutcome {
  int exit_code = -1;      // exit status; 128 + signal when killed; -1 when it did not start
  bool timed_out = false;  // killed at the deadline
  std::string out, err;    // what it wrote, each capped at 1 MiB
};

// What the host offers a plugin. Owned by the host; valid for the plugin's life.
class PluginContext {
 public:
  virtual ~PluginContext() = default;
  virtual const std::string& name() const = 0;
  // The plugin's strand on the daemon's one io_context.
  virtual boost::asio::any_io_executor executor() = 0;
  // A logger whose lines carry the plugin's name.
  virtual Logger& log() = 0;
  // The plugin's validated config section: an object holding every declared
  // key with its value or default. A new snapshot after each live change.
  virtual Json::Value config() const = 0;
  // One of the core's sections ("subscriber", "gateway", "daemon", ...), in
  // the same form, for a plugin that acts for the core where the core does
  // not drive it (the tether honours subscriber.routing); null for any
  // other name, another plugin's section included.
  virtual Json::Value core_config(const std::string& section) const = 0;
  virtual KeyValueStore& store() = 0;
  // Registers "<plugin name>.<method>". Handlers are called on the plugin's strand.
  virtual void register_method(const std::string& method, Access access,
                               MethodHandler handler) = 0;
  // Takes HTTP upgrade requests (WebSocket) for exactly `path` ("/vpn") on
  // the daemon's RPC port; the handler runs on the plugin's strand and owns
  // the connection. Throws std::invalid_argument when the path is not
  // absolute, is /jsonrpc, or another plugin has it. Requests for a path
  // nobody registered are answered by the HTTP server as usual.
  virtual void register_upgrade(const std::string& path, UpgradeHandler handler) = 0;
  // Publish/subscribe; the plugin's handlers run on its strand.
  virtual EventBus& events() = 0;
  // Runs argv[0] (searched in PATH) with `input` on its stdin, without a
  // shell, killed after `timeout`; `done` (may be empty) runs on the plugin's
  // strand. Commands run one after another in the order they were given, so a
  // plugin may hand over a whole sequence at once (as stop() must: it has no
  // completion). This is how plugins reach ip(8), nft(8) and other tools;
  // tests substitute it. Commands run with LC_ALL=C, so what they write
  // (e.g. "File exists") is the same whatever the daemon's locale.
  virtual void run(std::vector<std::string> argv, std::string input,
                   std::chrono::milliseconds timeout,
                   std::function<void(CommandOutcome)> done) = 0;
  // Wall clock and monotonic clock; tests may substitute both.
  virtual std::chrono::system_clock::time_point wall_now() const = 0;
  virtual std::chrono::steady_clock::time_point now() const = 0;
  // The gateway's sessions and vouchers, for payment plugins.
  virtual GatewayPayments& payments() = 0;
  // The gateways this node knows, from scans and the DHT, as listGateways
  // gives them ({"gateways": [...]}'s array: "address", "port", "source",
  // "current", "services", ...); an empty array when the list cannot be
  // read. `done` runs on the plugin's strand.
  virtual void gateways(std::function<void(Json::Value)> done) = 0;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  // Begin work. Throwing marks the plugin failed; the daemon keeps running.
  virtual void start() = 0;
  // Stop work and release what the plugin set up in the OS. Called once, at
  // shutdown or before the plugin is marked failed.
  virtual void stop() {}
  // Free-form status for listPlugins, e.g. {"peers": 3}. A plugin that runs
  // but cannot do its work (its daemon unreachable, its file unreadable)
  // puts a short sentence under "error" ("" or absent when all is well);
  // listPlugins then shows it as state "degraded" with that error.
  virtual Json::Value status() const { return Json::Value(Json::objectValue); }
  // A live-changeable key of this plugin changed; context.config() has the new values.
  virtual void config_changed() {}
  // Gateway side: a service this plugin offers beside the suites (an HTTP
  // tunnel server), which the core announces under the plugin's name in
  // nodeInfo ("services") and, signed, in the DHT offer while this node is
  // a gateway: where users reach it, e.g. "http://gw.example:8080/", 1 to
  // 96 printable ASCII characters without spaces (check_service, a value
  // that is not is left out and the log says why); "" for none. Asked each
  // time either is made, which anyone on the mesh can cause: keep it cheap.
  virtual std::string announce() const { return ""; }

  virtual DiscoveryPlugin* as_discovery() { return nullptr; }
  virtual TunnelPlugin* as_tunnel() { return nullptr; }
  virtual PaymentPlugin* as_payment() { return nullptr; }
};

// A node that discovery believes may run mnigsd: one address of it. A node
// with several addresses is several candidates with the same `node`.
struct Candidate {
  std::string address;     // IPv4 or IPv6 literal (a link-local IPv6 carries its zone: fe80::1%eth0)
  std::uint16_t port = 0;  // 0: probe every port in daemon.scanports
  std::string detail;      // where it came from, for logs ("static peer", "babel route")
  // The routing protocol's name for the node (babel router id, cjdns key,
  // batman-adv originator MAC, l2 node id); "" when unknown. The scanner
  // probes a node's addresses in turn until one answers, not all of them.
  std::string node;
  // The protocol says this node offers a default route or Internet access
  // (babel 0.0.0.0/0 or ::/0, olsr HNA, batman-adv gateway).
  bool gateway = false;
  // Hops or metric from this node, lower is nearer; 0 when unknown. The
  // scanner probes nearer nodes first.
  std::uint32_t distance = 0;
};

// A link between two nodes as the protocol sees it, by Candidate::node; ""
// names this node itself.
struct Link {
  std::string from, to;
  std::uint32_t cost = 0;  // the protocol's link cost or metric; 0 when unknown
};

// What one discover() call found.
struct Discovery {
  std::vector<Candidate> candidates;
  std::vector<Link> links;
  // When the plugin could not ask its daemon: a sentence for the user (the
  // candidates may still hold what it knew before). "" when all went well.
  std::string error;
};

class DiscoveryPlugin : public Plugin {
 public:
  // The network part of a suite, e.g. "babel", "cjdns", "static".
  virtual std::string network() const = 0;
  // Reports the nodes this plugin knows now. `done` is called exactly once,
  // on the plugin's strand, possibly later (after asking the daemon); a
  // plugin should answer within a few seconds, from what it last knew if its
  // daemon is slow. A plugin whose view changes by itself (babel monitor, l2
  // announcements) may publish the event "discovery.changed" with
  // {"network": ...}: when background scans are on, the scanner then asks
  // again and probes the nodes at addresses no scan has probed yet.
  virtual void discover(std::function<void(Discovery)> done) = 0;
  DiscoveryPlugin* as_discovery() override { return this; }
};

// One gateway session as a tunnel plugin sees it, on either end.
struct TunnelSession {
  std::string id;                  // the session id the gateway chose
  std::string suite;               // e.g. "static-forwarding-free"
  std::string subscriber_address;  // the subscriber's mesh address (IPv4 or IPv6 literal)
  std::string gateway_address;     // the gateway's mesh address the subscriber reached
  // Tunnel-specific: on the gateway, what open_session returned before (empty
  // for a new session); on the subscriber, the "tunnel" object of the reply
  // plus "routing" (subscriber.routing) and "gatewayPort" (the gateway's RPC
  // port, where its HTTP upgrade paths are too), and when the core knows the
  // key the gateway's end of this tunnel is pinned by (its gateway_key()):
  // "gatewayKey", that string, and "gatewayKeySource", where it came from:
  // "offer" (the gateway's DHT offer, signed by the identity its nodeInfo
  // names) or "nodeInfo" (its nodeInfo reply, which nothing signs). Both are
  // absent when no key is known; the gateway's own "tunnel" object cannot
  // set them. A key is 1 to 128 letters, digits or ': + / = . _ -'.
  // On the subscriber the core has checked the gateway's object first
  // (core/subscriber/grant.hpp): at most 32 members, strings without control
  // characters but newline and tab, nesting at most two levels; "path" and
  // "token" printable ASCII without spaces; "mtu" 576-65535; "address4",
  // "gateway4" IPv4 and "address6", "gateway6" IPv6 unicast literals with
  // "prefix4" 8-32 and "prefix6" 64-128, whose network holds neither the
  // gateway's nor this host's addresses. Any other member is the plugin's to
  // check before use.
  Json::Value params{Json::objectValue};
  // The key the subscriber's end of this tunnel is known by (its
  // subscriber_key()), "" for none. On the gateway: what the subscriber sent
  // as "subscriberKey" in requestConnection, which the core has checked only
  // for the key syntax (1 to 128 letters, digits or ': + / = . _ -'; the
  // plugin checks the rest), kept with the session across restarts. On the
  // subscriber: its own key as it was sent.
  std::string subscriber_key;
};

// What a subscriber-side tunnel knows of one of its connected sessions
// (TunnelPlugin::traffic).
struct TunnelTraffic {
  // The device the session's packets go through; "" when the tunnel has none
  // of its own (forwarding uses the mesh interface).
  std::string device;
  // Whether the tunnel counts the session's packets; the counters below are
  // 0 when it does not.
  bool counted = false;
  // Bytes sent towards the gateway and received from it since the session's
  // first connect(), the tunnel's own keepalives not included, and the
  // packets they went in as the tunnel moves them (with segmentation
  // offload one may carry many IP packets, as websocket's messages do).
  std::uint64_t bytes_out = 0, bytes_in = 0, packets_out = 0, packets_in = 0;
};

class TunnelPlugin : public Plugin {
 public:
  // `error` is "" on success, else a sentence for the user.
  using Done = std::function<void(std::string error)>;

  // The tunnel part of a suite, e.g. "forwarding", "websocket".
  virtual std::string method() const = 0;

  // Gateway side: set up this end for a session (new, or resumed after a
  // restart with the params it returned then). `done(error, params)`: params
  // go to the subscriber as the reply's "tunnel" object.
  virtual void open_session(const TunnelSession& session,
                            std::function<void(std::string error, Json::Value params)> done) = 0;
  // Gateway side: remove this end of a session (released or expired).
  virtual void close_session(const TunnelSession& session, Done done) = 0;

  // Gateway side: the fingerprint a subscriber pins this end's key by, for a
  // tunnel that encrypts without a certificate authority; opaque to the core
  // (e.g. "sha256:<64 lowercase hex>"), "" when the tunnel has none. The
  // core publishes it in nodeInfo ("tunnelKeys") and, signed, in the DHT
  // offer, so it must be 1 to 128 letters, digits or ': + / = . _ -' (a key
  // that is not is left out, and the log says why). Asked each time either
  // is made, which anyone on the mesh can cause: keep it cheap.
  virtual std::string gateway_key() const { return ""; }

  // Subscriber side: the key this end is known by, for a tunnel whose
  // gateway admits a subscriber by its key (openvpn's certificate key,
  // cjdns's public key); "" when the tunnel has none. The core asks before
  // each requestConnection through this tunnel and sends a non-empty key as
  // "subscriberKey" (the syntax of gateway_key); a non-empty `error` stops
  // the request with that sentence. `done` may run later, on any strand.
  virtual void subscriber_key(std::function<void(std::string error, std::string key)> done) {
    done("", "");
  }

  // Subscriber side: bring the tunnel up and move routes as subscriber.routing says.
  virtual void connect(const TunnelSession& session, Done done) = 0;
  // Subscriber side: take the tunnel down and remove the routes it added.
  virtual void disconnect(const TunnelSession& session, Done done) = 0;

  // Subscriber side: whether this tunnel can hold a warm standby, that is,
  // several sessions connected at once to different gateways, one of them
  // with routing "default" and the others with "none" (tunnel up, probes
  // answered, routes untouched); and connect() with routing "default" for a
  // session already connected with "none" moves the default route to it in
  // one step, after which disconnect() of the session that had it leaves the
  // routes alone. Sessions are told apart by gateway and id (two gateways
  // may choose the same id), and their tunnel addresses add no prefix
  // routes (two gateways may give the same ones): the core does not refuse
  // a gateway's tunnel prefix for covering another session's addresses. The
  // core keeps a standby (subscriber.standby) only through tunnels that say
  // so.
  virtual bool supports_standby() const { return false; }

  // Subscriber side: the device and counters of a connected session, for
  // listSessions; a session this end does not hold gives the default.
  virtual TunnelTraffic traffic(const TunnelSession& session) const {
    (void)session;
    return {};
  }

  // Removes everything this plugin may have left in the kernel, on either
  // side (after a crash, before sessions are resumed; and at shutdown).
  virtual void reset(Done done) = 0;

  TunnelPlugin* as_tunnel() override { return this; }
};


class PaymentPlugin : public Plugin {
 public:
  // The payment part of a suite, e.g. "free".
  virtual std::string method() const = 0;
  // What a subscriber is told about the price, e.g. {"price": 0, "currency": ""}.
  virtual Json::Value terms() const = 0;
  // Whether a session must be paid (a voucher redeemed) before its traffic
  // goes beyond the gateway. Until then the core lets only DNS through,
  // refuses HTTPS with a reset and redirects HTTP to portal_port().
  virtual bool charges() const { return false; }
  // Where the subscriber of a session reached at our `gateway_address` pays
  // (a URL), and the port on this node that HTTP of unpaid sessions is
  // redirected to; "" and 0 for none.
  virtual std::string portal(const std::string& gateway_address) const {
    (void)gateway_address;
    return "";
  }
  virtual std::uint16_t portal_port() const { return 0; }
  // Whether this node offers the method now (it is a gateway and
  // gateway.payments names it): told after start and whenever that changes.
  // A plugin with a service of its own (a page) runs it only while offered.
  virtual void offered(bool yes) { (void)yes; }
  PaymentPlugin* as_payment() override { return this; }
};

// A gateway session as a payment plugin sees it.
struct PaymentState {
  std::string session_id;  // "" when the address holds no session
  std::string gateway_address;  // ours, as the subscriber reached us
  bool paid = false;       // its traffic goes beyond the gateway
  std::int64_t seconds_remaining = -1;  // -1: no time limit
  std::int64_t bytes_remaining = -1;    // -1: no byte limit
  // Why the call was refused, a sentence for the subscriber; "" when it was not.
  std::string error;
};

// The gateway's sessions and vouchers (PluginContext::payments). Callbacks
// run on the plugin's strand.
class GatewayPayments {
 public:
  virtual ~GatewayPayments() = default;
  // The session whose subscriber holds `address` (its mesh address or a
  // tunnel address it was given).
  virtual void session_at(const std::string& address,
                          std::function<void(PaymentState)> done) = 0;
  // Redeems the voucher `code` (as typed) for the session at `address`, or
  // with `address` empty for the session `session_id`: it is paid at once,
  // and a session that was already paid is topped up in place.
  virtual void redeem(const std::string& address, const std::string& session_id,
                      const std::string& code, std::function<void(PaymentState)> done) = 0;
  // Creates vouchers, as the admin method createVouchers with these params
  // does: {"count", "minutes", "bytes", ...}; `done` gets {"vouchers": [...]}
  // or an error sentence.
  virtual void create_vouchers(const Json::Value& params,
                               std::function<void(std::string error, Json::Value)> done) = 0;
};

}  // namespace mnigs
