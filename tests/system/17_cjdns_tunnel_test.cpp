// tunnel/cjdns (plugin iptunnel, suite part cjdns) between two mnigsd, each
// talking to its own "cjdroute": the test peer mnigs-test-cjdroute, which
// speaks cjdroute's admin protocol and keeps IpTunnel connections as cjdns
// v22.3 does, on 127.0.0.1:11234 in its node's namespace. There is no cjdns
// router behind the stand-ins, so no packet crosses the tunnel here: what
// is checked is what each mnigsd told its cjdroute (asked back through the
// stand-ins' own IpTunnel_listConnections / IpTunnel_showConnection) and
// what each did to its kernel. Each namespace has a tun device "tun0" with
// the fc00::/8 address of its cjdroute's key, as cjdroute's TUN would.
//
//   gw ---- sub     10.77.1.0/24; sub connects with -m static-cjdns-free
//
// The core sends the subscriber's key with requestConnection
// ("subscriberKey", from TunnelPlugin::subscriber_key); the gateway admits
// the subscriber by it. The stand-ins can be told what a gateway's
// cjdroute issues over the mesh ("issues") and to lose replies
// ("dropReplies"), for the cases a real network would produce.
#include <arpa/inet.h>
#include <json/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include "admin_server.hpp"  // tests/peers/cjdroute: its bencode and sha256, to ask it back
#include "benc.hpp"
#include "harness/system_test.hpp"
#include "harness/text.hpp"
#include "harness/wait.hpp"

#ifndef MNIGS_TEST_PEER_DIR
#error "MNIGS_TEST_PEER_DIR must name the directory of the test peers"
#endif

namespace mnigs::test {
namespace {

using cjdroute_peer::Benc;

struct Identity {
  const char* key;
  const char* address;
};
// cjdns keys and the addresses they own (as in 06_cjdns_test.cpp).
const Identity kGw = {"nrjgkkj95zb3thx1uctcurrtu6jl4c71bgl9pm4ydtvsfshltr50.k",
                      "fc5c:afd5:da49:bc6:88ba:7327:e665:ae01"};
const Identity kSub = {"dyh3fhkhmmx25f02bblyx80ydc3s3xsxtcrh957c1jy94yvfxc01.k",
                       "fc72:f475:6337:b8c8:3d2c:70ec:f0dd:64a"};
const std::string kPassword = "NONE";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// One datagram to the stand-in in `ns` and its answer, or nullopt.
std::optional<Benc> ask_stand_in(const std::string& ns, const std::string& datagram) {
  std::optional<Benc> out;
  run_in_netns_thread(ns, [&] {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(11234);
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    ::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) == 1) {
      std::string buf(65536, '\0');
      ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
      if (n > 0) out = cjdroute_peer::read_message(std::string_view(buf.data(), n));
    }
    ::close(fd);
  });
  return out;
}

// An authenticated call, as cjdns' own tools make one.
Benc admin(const std::string& ns, const std::string& function, Benc args = Benc::new_dict()) {
  auto cookie = ask_stand_in(ns, "d1:q6:cookie4:txid1:ce");
  if (!cookie || !cookie->get_str("cookie")) return Benc::new_dict();
  const std::string c = *cookie->get_str("cookie");
  Benc m = Benc::new_dict();
  m.entries["q"] = Benc::of("auth");
  m.entries["aq"] = Benc::of(function);
  m.entries["args"] = args;
  m.entries["cookie"] = Benc::of(c);
  m.entries["txid"] = Benc::of("t");
  m.entries["hash"] = Benc::of(cjdroute_peer::sha256_hex(kPassword + c));
  m.entries["hash"] = Benc::of(cjdroute_peer::sha256_hex(cjdroute_peer::write(m)));
  return ask_stand_in(ns, cjdroute_peer::write(m)).value_or(Benc::new_dict());
}

// Every IpTunnel connection of the stand-in in `ns`, as showConnection shows it.
std::vector<Benc> connections(const std::string& ns) {
  std::vector<Benc> out;
  Benc list = admin(ns, "IpTunnel_listConnections");
  auto it = list.entries.find("connections");
  if (it == list.entries.end()) return out;
  for (const auto& n : it->second.items) {
    Benc args = Benc::new_dict();
    args.entries["connection"] = Benc::of(n.num);
    out.push_back(admin(ns, "IpTunnel_showConnection", args));
  }
  return out;
}

std::string text(const Benc& d, const std::string& key) {
  const std::string* s = d.get_str(key);
  return s ? *s : "";
}
std::int64_t number(const Benc& d, const std::string& key) {
  const std::int64_t* n = d.get_int(key);
  return n ? *n : -1;
}

class CjdnsTunnel : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("gw").node("sub");
    topology_.link("gw", "sub");
    topology_.up();
    for (const auto& [name, id] : {std::pair{"gw", kGw}, std::pair{"sub", kSub}}) {
      exec(name, {"ip", "tuntap", "add", "dev", "tun0", "mode", "tun"});
      exec(name, {"ip", "-6", "addr", "add", std::string(id.address) + "/8", "dev", "tun0",
                  "nodad"});
      exec(name, {"ip", "link", "set", "dev", "tun0", "up"});
    }
  }

  void TearDown() override {
    for (pid_t pid : peers_) {
      terminate_processes({pid});
      Reaper::instance().forget_pid(pid);
    }
    if (HasFailure())
      for (const auto& [name, node] : {std::pair{"gw", gw_.get()}, std::pair{"sub", sub_.get()}})
        if (node)
          std::cerr << "---- " << name << " cjdroute ----\n"
                    << read_all(node->dir() + "/cjdroute.log") << "----\n";
  }

  void exec(const std::string& node, const std::vector<std::string>& argv) {
    auto r = topology_.exec(node, argv, 10s);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string ip(const std::string& node, const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    return topology_.exec(node, argv, 10s).out;
  }

  // mnigsd in `name`, with its stand-in cjdroute (admin password `password`,
  // own key `id`); the plugin reads a cjdroute.conf naming it.
  std::unique_ptr<Node> start(const std::string& name, const Identity& id,
                              const std::string& password, bool gateway,
                              Json::Value extra = Json::Value(Json::objectValue)) {
    auto options = NodeOptions()
                       .only_discovery("static")
                       .set("iptunnel", "adminFile", "\"\"")
                       .set("iptunnel", "timeout", "500")
                       .set("iptunnel", "checkInterval", "1");
    if (gateway) options.set("gateway", "enabled", "true");
    auto node = std::make_unique<Node>(topology_, name, options);
    const std::string conf = node->dir() + "/cjdroute.conf";
    std::ofstream(conf) << "{\n  // what mnigsd reads of cjdroute's config\n"
                        << "  \"admin\": {\"bind\": \"127.0.0.1:11234\", \"password\": \""
                        << kPassword << "\"}\n}\n";
    node->options().set("iptunnel", "confFile", yaml_quote(conf));
    Json::Value data = extra;
    data["self"] = id.key;
    data["nodes"] = Json::Value(Json::arrayValue);
    data["peers"] = Json::Value(Json::arrayValue);
    std::ofstream(node->dir() + "/cjdroute.json") << to_json(data);
    stand_in(name, *node, password);
    node->start();
    node->wait_ready();
    return node;
  }

  // (Re)starts the stand-in cjdroute of `node`, which starts with no
  // connections and numbers them from 0, as cjdroute after a restart.
  void stand_in(const std::string& name, Node& node, const std::string& password) {
    const std::string log = node.dir() + "/cjdroute.log";
    const auto before = read_all(log).size();
    pid_t pid = spawn_in_ns(topology_.ns(name),
                            {std::string(MNIGS_TEST_PEER_DIR) + "/mnigs-test-cjdroute", "--bind",
                             "127.0.0.1:11234", "--password", password, "--data",
                             node.dir() + "/cjdroute.json"},
                            log);
    Reaper::instance().watch_pid(pid);
    peers_.push_back(pid);
    wait_until([&] { return contains(read_all(log).substr(before), "admin on"); }, 100, 50ms);
  }
  void stop_stand_in(std::size_t i) {
    terminate_processes({peers_[i]});
    Reaper::instance().forget_pid(peers_[i]);
    peers_.erase(peers_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  void wait_for_gateway_key() {
    ASSERT_TRUE(wait_until(
        [&] {
          return gw_->rpc("nodeInfo")["result"]["tunnelKeys"]["cjdns"].asString() == kGw.key;
        },
        50, 100ms));
  }
  CommandResult connect() {
    return sub_->cli({"-c", topology_.address("gw", "sub"), "-m", "static-cjdns-free"});
  }
  static std::uint64_t errors(const Node& node, const std::string& kind) {
    return plugin(node)["status"]["errors"][kind].asUInt64();
  }

  static Json::Value plugin(const Node& node) {
    Json::Value r = node.rpc("listPlugins");
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "iptunnel") return p;
    return Json::Value();
  }

  Topology topology_;  // declared first: destroyed after the nodes in it
  std::unique_ptr<Node> gw_, sub_;
  std::vector<pid_t> peers_;
};

// The gateway offers the cjdns tunnel and names its cjdroute's key, which
// it learnt from Core_nodeInfo; the subscriber's plugin knows its own.
TEST_F(CjdnsTunnel, GatewayOffersItsCjdrouteKey) {
  gw_ = start("gw", kGw, kPassword, true);
  sub_ = start("sub", kSub, kPassword, false);
  Json::Value info;
  ASSERT_TRUE(wait_until(
      [&] {
        info = gw_->rpc("nodeInfo")["result"];
        return info["tunnelKeys"]["cjdns"].asString() == kGw.key;
      },
      50, 100ms))
      << to_json(info) << to_json(plugin(*gw_));
  bool offered = false;
  for (const auto& s : info["suites"]) offered |= s.asString() == "static-cjdns-free";
  EXPECT_TRUE(offered) << to_json(info);
  Json::Value p = plugin(*gw_);
  EXPECT_EQ(p["state"].asString(), "running") << to_json(p);
  EXPECT_EQ(p["status"]["key"].asString(), kGw.key);
  EXPECT_EQ(p["status"]["admin"].asString(), "127.0.0.1:11234");
  ASSERT_TRUE(wait_until([&] { return plugin(*sub_)["status"]["key"].asString() == kSub.key; },
                         50, 100ms))
      << to_json(plugin(*sub_));
}

TEST_F(CjdnsTunnel, ConnectAllowsExactlyTheSubscribersKey) {
  gw_ = start("gw", kGw, kPassword, true);
  sub_ = start("sub", kSub, kPassword, false);
  ASSERT_TRUE(wait_until(
      [&] { return gw_->rpc("nodeInfo")["result"]["tunnelKeys"]["cjdns"].asString() == kGw.key; },
      50, 100ms));
  auto r = sub_->cli({"-c", topology_.address("gw", "sub"), "-m", "static-cjdns-free"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << sub_->log_tail() << gw_->log_tail();

  // The gateway's cjdroute allows exactly the subscriber's key, with the
  // session's addresses, one address each (alloc) and no route (prefix).
  auto allowed = connections(topology_.ns("gw"));
  ASSERT_EQ(allowed.size(), 1u);
  EXPECT_EQ(text(allowed[0], "key"), kSub.key);
  EXPECT_EQ(number(allowed[0], "outgoing"), 0);
  EXPECT_EQ(text(allowed[0], "ip4Address"), "10.94.0.2");
  EXPECT_EQ(number(allowed[0], "ip4Alloc"), 32);
  EXPECT_EQ(number(allowed[0], "ip4Prefix"), 32);
  EXPECT_EQ(text(allowed[0], "ip6Address"), "fd94::2");
  EXPECT_EQ(number(allowed[0], "ip6Alloc"), 128);
  // The subscriber's cjdroute connects to exactly the gateway's key.
  auto made = connections(topology_.ns("sub"));
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(text(made[0], "key"), kGw.key);
  EXPECT_EQ(number(made[0], "outgoing"), 1);

  // The gateway addressed its TUN and masquerades the pool; the subscriber
  // holds its addresses on its TUN and routes by default into it.
  EXPECT_TRUE(contains(ip("gw", {"-o", "addr", "show", "dev", "tun0"}), "10.94.0.1/24"));
  EXPECT_TRUE(contains(topology_.exec("gw", {"nft", "list", "table", "inet", "mnigs_iptunnel"},
                                      10s).out,
                       "ip saddr 10.94.0.0/24"));
  EXPECT_TRUE(contains(ip("sub", {"-o", "addr", "show", "dev", "tun0"}), "10.94.0.2/32"));
  EXPECT_TRUE(contains(ip("sub", {"-4", "route", "show", "table", "65529"}), "dev tun0"));
  EXPECT_TRUE(contains(ip("sub", {"-6", "route", "show", "table", "65529"}), "src fd94::2"));

  // Released: both connections go, and what the plugins added.
  auto d = sub_->cli({"-d"});
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  ASSERT_TRUE(wait_until([&] { return connections(topology_.ns("gw")).empty(); }, 50, 100ms))
      << gw_->log_tail();
  EXPECT_TRUE(connections(topology_.ns("sub")).empty());
  EXPECT_FALSE(contains(ip("sub", {"-o", "addr", "show", "dev", "tun0"}), "10.94.0.2"));
  EXPECT_EQ(ip("sub", {"-4", "route", "show", "table", "65529"}), "");
}

// A gateway whose cjdroute refuses the password: said clearly, counted, and
// the daemon keeps serving; no key is offered that cjdroute did not
// confirm, so the subscriber has no key to connect to and nothing is made.
TEST_F(CjdnsTunnel, CjdroutesRefusalIsClearAndCounted) {
  gw_ = start("gw", kGw, "not-the-password", true);
  sub_ = start("sub", kSub, kPassword, false);
  Json::Value p;
  ASSERT_TRUE(wait_until(
      [&] {
        p = plugin(*gw_);
        return p["status"]["errors"]["authFailed"].asUInt64() >= 1;
      },
      50, 100ms))
      << to_json(p);
  EXPECT_EQ(p["state"].asString(), "degraded") << to_json(p);
  EXPECT_TRUE(contains(p["error"].asString(), "refused the password")) << to_json(p);
  EXPECT_TRUE(contains(p["error"].asString(), "(Auth failed.)")) << to_json(p);
  EXPECT_FALSE(gw_->rpc("nodeInfo")["result"]["tunnelKeys"].isMember("cjdns"));

  auto r = connect();
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_TRUE(connections(topology_.ns("sub")).empty());
  EXPECT_TRUE(connections(topology_.ns("gw")).empty());
  EXPECT_TRUE(rpc_succeeded(gw_->rpc("status")));
  EXPECT_TRUE(gw_->running());
}

// The operator's cjdroute.conf already lets the subscriber's key in: the
// gateway does not hand that key a second connection, and leaves the
// operator's alone.
TEST_F(CjdnsTunnel, KeyHeldByTheOperatorsConnectionIsRefused) {
  gw_ = start("gw", kGw, kPassword, true);
  sub_ = start("sub", kSub, kPassword, false);
  wait_for_gateway_key();
  Benc args = Benc::new_dict();
  args.entries["publicKeyOfAuthorizedNode"] = Benc::of(kSub.key);
  args.entries["ip4Address"] = Benc::of("10.99.0.5");
  ASSERT_EQ(number(admin(topology_.ns("gw"), "IpTunnel_allowConnection", args), "connection"), 0);
  auto r = connect();
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_GE(errors(*gw_, "keyInUse"), 1u) << to_json(plugin(*gw_));
  auto left = connections(topology_.ns("gw"));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(text(left[0], "ip4Address"), "10.99.0.5");
}

// A subscriber sending the gateway's own key is refused.
TEST_F(CjdnsTunnel, SubscriberWithTheGatewaysKeyIsRefused) {
  gw_ = start("gw", kGw, kPassword, true);
  sub_ = start("sub", kGw, kPassword, false);  // its cjdroute claims the gateway's key
  wait_for_gateway_key();
  auto r = connect();
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_GE(errors(*gw_, "badKey"), 1u) << to_json(plugin(*gw_));
  EXPECT_TRUE(connections(topology_.ns("gw")).empty());
}

// The gateway's cjdroute issues a default route (prefix 0) over the mesh,
// which the core never saw: the subscriber refuses the session, removes
// its connection and RouteGen's prefix, and keeps no address.
TEST_F(CjdnsTunnel, HostileIssueOfRoutesIsRefused) {
  gw_ = start("gw", kGw, kPassword, true);
  Json::Value extra(Json::objectValue);
  extra["issues"][kGw.key]["ip4"] = "10.94.0.2";
  extra["issues"][kGw.key]["ip4Prefix"] = 0;
  sub_ = start("sub", kSub, kPassword, false, extra);
  wait_for_gateway_key();
  auto r = connect();
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_GE(errors(*sub_, "badIssue"), 1u) << to_json(plugin(*sub_)) << sub_->log_tail();
  EXPECT_TRUE(connections(topology_.ns("sub")).empty());
  Benc routes = admin(topology_.ns("sub"), "RouteGen_getPrefixes");
  ASSERT_TRUE(routes.entries.count("routes")) << cjdroute_peer::write(routes);
  EXPECT_TRUE(routes.entries["routes"].items.empty()) << cjdroute_peer::write(routes);
  EXPECT_FALSE(contains(ip("sub", {"-o", "addr", "show", "dev", "tun0"}), "10.94.0.2"));
  EXPECT_EQ(ip("sub", {"-4", "route", "show", "table", "65529"}), "");
}

// The reply to allowConnection is lost after cjdroute acted: the gateway
// finds the connection by key and addresses, and removes it at the end.
TEST_F(CjdnsTunnel, LostAllowReplyIsFoundAndRemoved) {
  Json::Value extra(Json::objectValue);
  extra["dropReplies"]["IpTunnel_allowConnection"] = 1;
  gw_ = start("gw", kGw, kPassword, true, extra);
  sub_ = start("sub", kSub, kPassword, false);
  wait_for_gateway_key();
  auto r = connect();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << gw_->log_tail();
  auto allowed = connections(topology_.ns("gw"));
  ASSERT_EQ(allowed.size(), 1u);
  EXPECT_EQ(text(allowed[0], "key"), kSub.key);
  EXPECT_EQ(sub_->cli({"-d"}).exit_code, 0);
  EXPECT_TRUE(wait_until([&] { return connections(topology_.ns("gw")).empty(); }, 50, 100ms))
      << gw_->log_tail();
}

// The gateway's cjdroute restarts: its numbers start from 0 again, and the
// operator's own connection takes the session's old number. The session's
// end removes nothing that is not its own.
TEST_F(CjdnsTunnel, RestartedCjdroutesReusedNumberIsLeftAlone) {
  gw_ = start("gw", kGw, kPassword, true);
  sub_ = start("sub", kSub, kPassword, false);
  wait_for_gateway_key();
  auto r = connect();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(number(connections(topology_.ns("gw")).at(0), "outgoing"), 0);
  stop_stand_in(0);  // the gateway's, started first
  stand_in("gw", *gw_, kPassword);
  Benc args = Benc::new_dict();
  args.entries["publicKeyOfAuthorizedNode"] = Benc::of(kGw.key);
  args.entries["ip4Address"] = Benc::of("10.99.0.5");
  ASSERT_EQ(number(admin(topology_.ns("gw"), "IpTunnel_allowConnection", args), "connection"), 0);
  // The periodic check sees the session's connection gone.
  EXPECT_TRUE(wait_until([&] { return errors(*gw_, "connectionLost") >= 1; }, 50, 100ms))
      << to_json(plugin(*gw_));
  EXPECT_EQ(sub_->cli({"-d"}).exit_code, 0);
  std::this_thread::sleep_for(1s);
  auto left = connections(topology_.ns("gw"));
  ASSERT_EQ(left.size(), 1u) << gw_->log_tail();
  EXPECT_EQ(text(left[0], "ip4Address"), "10.99.0.5");
}

}  // namespace
}  // namespace mnigs::test
