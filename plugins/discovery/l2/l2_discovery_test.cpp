// The l2 plugin's logic on a fake context and a fake clock, without a
// network: datagrams are handed in as the sockets would, and the interface
// list is the test's.
#include "l2_discovery.hpp"
#include "test_context.hpp"

#include <gtest/gtest.h>

namespace mnigs::l2 {
namespace {

using namespace std::chrono_literals;
using testing::ClockContext;
using testing::l2_config;

const std::string kPeer = "00112233445566ff";

std::string announcement(const std::string& id, std::vector<std::string> addresses,
                         int interval = 5) {
  Announcement a;
  a.node_id = id;
  a.interval = interval;
  a.addresses = std::move(addresses);
  return encode(a);
}

boost::asio::ip::udp::endpoint from(const std::string& link_local = "fe80::2") {
  return {boost::asio::ip::make_address(link_local), 65532};
}

LinkInterface iface(std::string name, bool up = true) {
  LinkInterface i;
  i.name = std::move(name);
  i.index = 7;
  i.up = up;
  i.multicast = true;
  return i;
}

class L2DiscoveryTest : public ::testing::Test {
 protected:
  // Starts the plugin with `config`; the interfaces it sees are `interfaces_`
  // (none by default, so no socket is opened and nothing is sent).
  void start(Json::Value config = l2_config()) {
    ctx_.config_ = std::move(config);
    ctx_.fake_now = std::chrono::steady_clock::time_point{} + 1000s;
    plugin_ = std::make_shared<L2Discovery>(ctx_, [this](std::string* why) {
      if (!list_error_.empty()) {
        *why = list_error_;
        return std::optional<std::vector<LinkInterface>>();
      }
      return std::optional<std::vector<LinkInterface>>(interfaces_);
    });
    plugin_->start();
  }

  Discovery discover() {
    Discovery out;
    bool called = false;
    plugin_->discover([&](Discovery d) {
      out = std::move(d);
      called = true;
    });
    EXPECT_TRUE(called);
    return out;
  }

  void advance(std::chrono::milliseconds d) { *ctx_.fake_now += d; }

  std::size_t changed_events() const {
    std::size_t n = 0;
    for (const auto& [topic, data] : ctx_.bus_.published)
      if (topic == "discovery.changed" && data["network"].asString() == "l2") ++n;
    return n;
  }

  Json::Value call(const std::string& method) {
    Json::Value out;
    ctx_.methods.at(method)(Json::Value(), CallInfo{}, Responder([&](bool ok, Json::Value payload) {
                              out = payload;
                              out["ok"] = ok;
                            }));
    return out;
  }

  ClockContext ctx_;
  std::vector<LinkInterface> interfaces_;
  std::string list_error_;
  std::shared_ptr<L2Discovery> plugin_;
};

TEST_F(L2DiscoveryTest, RejectsBadSettingsAtStart) {
  auto fails = [&](Json::Value config, const std::string& key) {
    ClockContext ctx;
    ctx.config_ = std::move(config);
    auto p = std::make_shared<L2Discovery>(ctx, [](std::string*) {
      return std::optional<std::vector<LinkInterface>>(std::vector<LinkInterface>{});
    });
    try {
      p->start();
      ADD_FAILURE() << "started with a bad " << key;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  for (const char* group : {"ff05::1", "ff0e::1", "10.0.0.1", "fe80::1", "ff02::1%1", ""}) {
    Json::Value c = l2_config();
    c["group"] = group;
    fails(c, "l2.group");
  }
  for (const char* name : {"a/b", "", "eth 0", "averyveryverylongname", "..", "eth0:1"})
    fails(l2_config({name}), "l2.interfaces");
  fails(l2_config({}, 5, 5), "l2.holdtime");
  fails(l2_config({}, 5, 3), "l2.holdtime");
}

TEST_F(L2DiscoveryTest, CreatesANodeIdOnceAndKeepsItInTheStore) {
  start();
  const std::string id = plugin_->node_id();
  EXPECT_TRUE(valid_node_id(id)) << id;
  EXPECT_EQ(ctx_.store_.rows["nodeId"], id);
  EXPECT_EQ(plugin_->status()["nodeId"].asString(), id);

  // A restart reads it back.
  plugin_->stop();
  start();
  EXPECT_EQ(plugin_->node_id(), id);
}

TEST_F(L2DiscoveryTest, ReplacesAMalformedStoredNodeId) {
  ctx_.store_.rows["nodeId"] = "not-an-id";
  start();
  EXPECT_TRUE(valid_node_id(plugin_->node_id())) << plugin_->node_id();
  EXPECT_EQ(ctx_.store_.rows["nodeId"], plugin_->node_id());
  EXPECT_TRUE(ctx_.log_.saw("malformed"));
}

TEST_F(L2DiscoveryTest, AnAnnouncedNodeBecomesCandidatesOfThatNode) {
  start();
  plugin_->on_datagram(announcement(kPeer, {"10.77.1.2", "fd77:0:0:1::2"}), "to-br",
                       from("fe80::2"));
  Discovery d = discover();
  ASSERT_EQ(d.candidates.size(), 2u);
  EXPECT_EQ(d.candidates[0].address, "10.77.1.2");
  EXPECT_EQ(d.candidates[1].address, "fd77:0:0:1::2");
  for (const auto& c : d.candidates) {
    EXPECT_EQ(c.node, kPeer);
    EXPECT_EQ(c.detail, "l2 to-br");
    EXPECT_EQ(c.distance, 1u);
    EXPECT_EQ(c.port, 0);
  }
  ASSERT_EQ(d.links.size(), 1u);
  EXPECT_EQ(d.links[0].from, "");
  EXPECT_EQ(d.links[0].to, kPeer);
  EXPECT_EQ(changed_events(), 1u);
  EXPECT_TRUE(ctx_.log_.saw("node " + kPeer + " heard on to-br"));

  Json::Value status = plugin_->status();
  ASSERT_EQ(status["peers"].size(), 1u);
  const Json::Value& peer = status["peers"][0];
  EXPECT_EQ(peer["id"].asString(), kPeer);
  EXPECT_EQ(peer["addresses"].size(), 2u);
  EXPECT_EQ(peer["lastHeard"].asInt(), 0);
  ASSERT_EQ(peer["links"].size(), 1u);
  EXPECT_EQ(peer["links"][0]["interface"].asString(), "to-br");
  EXPECT_EQ(peer["links"][0]["source"].asString(), "fe80::2%to-br");
  EXPECT_EQ(peer["links"][0]["interval"].asInt(), 5);
  EXPECT_EQ(peer["links"][0]["holdtime"].asInt(), 15);
  EXPECT_EQ(status["received"].asUInt64(), 1u);
  EXPECT_EQ(status["bad"].asUInt64(), 0u);
}

TEST_F(L2DiscoveryTest, ANodeWithoutAddressesIsReachedByItsLinkLocalSource) {
  start();
  plugin_->on_datagram(announcement(kPeer, {}), "wlan0", from("fe80::abcd"));
  Discovery d = discover();
  ASSERT_EQ(d.candidates.size(), 1u);
  EXPECT_EQ(d.candidates[0].address, "fe80::abcd%wlan0");
  EXPECT_EQ(d.candidates[0].node, kPeer);
}

TEST_F(L2DiscoveryTest, OnlyNewOrChangedNodesAreAnnouncedAsChanges) {
  start();
  plugin_->on_datagram(announcement(kPeer, {"10.77.1.2"}), "eth0", from());
  advance(5s);
  plugin_->on_datagram(announcement(kPeer, {"10.77.1.2"}), "eth0", from());
  EXPECT_EQ(changed_events(), 1u);
  plugin_->on_datagram(announcement(kPeer, {"10.77.1.2", "10.77.2.2"}), "eth0", from());
  EXPECT_EQ(changed_events(), 2u);
  EXPECT_EQ(discover().candidates.size(), 2u);
}

TEST_F(L2DiscoveryTest, ANodeOnTwoOfOurLinksIsOneNodeWithTheAddressesOfBoth) {
  start();
  plugin_->on_datagram(announcement(kPeer, {"10.77.1.2"}), "lan", from("fe80::2"));
  plugin_->on_datagram(announcement(kPeer, {"10.77.2.2"}), "cable", from("fe80::3"));
  // Hearing it on both, turn by turn, is no change.
  for (int i = 0; i < 3; ++i) {
    advance(5s);
    plugin_->on_datagram(announcement(kPeer, {"10.77.1.2"}), "lan", from("fe80::2"));
    plugin_->on_datagram(announcement(kPeer, {"10.77.2.2"}), "cable", from("fe80::3"));
  }
  EXPECT_EQ(changed_events(), 2u);  // new, then new on a second link
  Discovery d = discover();
  ASSERT_EQ(d.candidates.size(), 2u);
  EXPECT_EQ(d.candidates[0].address, "10.77.2.2");
  EXPECT_EQ(d.candidates[0].detail, "l2 cable");
  EXPECT_EQ(d.candidates[1].address, "10.77.1.2");
  EXPECT_EQ(d.candidates[1].detail, "l2 lan");
  EXPECT_EQ(d.links.size(), 1u);
  EXPECT_EQ(plugin_->status()["peers"][0]["links"].size(), 2u);

  // The cable is unplugged: the node stays, with its LAN address only.
  for (int i = 0; i < 4; ++i) {
    advance(5s);
    plugin_->on_datagram(announcement(kPeer, {"10.77.1.2"}), "lan", from("fe80::2"));
  }
  d = discover();
  ASSERT_EQ(d.candidates.size(), 1u);
  EXPECT_EQ(d.candidates[0].address, "10.77.1.2");
  EXPECT_EQ(changed_events(), 3u);
  EXPECT_FALSE(ctx_.log_.saw("no longer heard"));
}

TEST_F(L2DiscoveryTest, ANodeThatStopsAnnouncingAgesOut) {
  start();
  // It announces every 2 s, so it is kept 6 s after it was last heard.
  plugin_->on_datagram(announcement(kPeer, {"10.77.1.2"}, 2), "eth0", from());
  advance(4s);
  plugin_->on_datagram(announcement(kPeer, {"10.77.1.2"}, 2), "eth0", from());
  advance(6s);
  EXPECT_EQ(discover().candidates.size(), 1u);
  EXPECT_EQ(plugin_->status()["peers"][0]["lastHeard"].asInt(), 6);
  advance(1ms);
  EXPECT_TRUE(discover().candidates.empty());
  EXPECT_TRUE(discover().links.empty());
  EXPECT_EQ(plugin_->status()["peers"].size(), 0u);
  EXPECT_EQ(changed_events(), 2u);  // appeared, aged out
  EXPECT_TRUE(ctx_.log_.saw("node " + kPeer + " no longer heard"));
}

TEST_F(L2DiscoveryTest, AConfiguredHoldtimeDecidesWhenNodesAgeOut) {
  start(l2_config({}, 5, 20));
  plugin_->on_datagram(announcement(kPeer, {"10.77.1.2"}, 1), "eth0", from());
  advance(20s);
  EXPECT_EQ(discover().candidates.size(), 1u);
  advance(1s);
  EXPECT_TRUE(discover().candidates.empty());
}

TEST_F(L2DiscoveryTest, IgnoresItsOwnAnnouncements) {
  start();
  plugin_->on_datagram(announcement(plugin_->node_id(), {"10.77.1.1"}), "eth0", from());
  EXPECT_TRUE(discover().candidates.empty());
  EXPECT_EQ(changed_events(), 0u);
  EXPECT_EQ(plugin_->status()["bad"].asUInt64(), 0u);
}

TEST_F(L2DiscoveryTest, BadDatagramsAreCountedAndLoggedAtMostOnceAMinute) {
  start();
  plugin_->on_datagram("garbage", "eth0", from("fe80::66"));
  EXPECT_TRUE(ctx_.log_.saw("ignored a datagram from fe80::66%eth0 on eth0: not valid JSON"));
  const auto lines = ctx_.log_.lines.size();
  advance(30s);
  std::string v2 = announcement(kPeer, {});
  v2.replace(v2.find("\"v\":1"), 5, "\"v\":9");
  plugin_->on_datagram(v2, "eth0", from("fe80::66"));
  plugin_->on_datagram(std::string(5000, 'x'), "eth0", from("fe80::66"));
  // Counted, and only written at debug level meanwhile.
  EXPECT_EQ(plugin_->status()["bad"].asUInt64(), 3u);
  EXPECT_EQ(plugin_->status()["received"].asUInt64(), 3u);
  for (auto i = lines; i < ctx_.log_.lines.size(); ++i)
    EXPECT_EQ(ctx_.log_.lines[i].find("more since"), std::string::npos);
  advance(30s);
  plugin_->on_datagram("[]", "eth0", from("fe80::66"));
  EXPECT_TRUE(ctx_.log_.saw("not a JSON object (and 2 more since the last message)"));
  EXPECT_TRUE(discover().candidates.empty());
}

TEST_F(L2DiscoveryTest, ListPeersAnswersWithThePeersHeard) {
  start();
  plugin_->on_datagram(announcement(kPeer, {"10.77.1.2"}), "eth0", from());
  Json::Value r = call("listPeers");
  ASSERT_TRUE(r["ok"].asBool()) << r.toStyledString();
  ASSERT_EQ(r["peers"].size(), 1u);
  EXPECT_EQ(r["peers"][0]["id"].asString(), kPeer);
  EXPECT_EQ(r["peers"][0]["addresses"][0].asString(), "10.77.1.2");

  plugin_->stop();
  r = call("listPeers");
  EXPECT_FALSE(r["ok"].asBool());
}

TEST_F(L2DiscoveryTest, ReportsConfiguredInterfacesItCannotUse) {
  interfaces_ = {iface("eth1", false), iface("lo0")};
  interfaces_[1].multicast = false;
  start(l2_config({"eth9", "eth1", "lo0"}));
  Json::Value problems = plugin_->status()["problems"];
  EXPECT_EQ(problems["eth9"].asString(), "no such interface");
  EXPECT_EQ(problems["eth1"].asString(), "is down");
  EXPECT_EQ(problems["lo0"].asString(), "cannot do multicast");
  EXPECT_EQ(plugin_->status()["interfaces"].size(), 0u);
  Discovery d = discover();
  EXPECT_NE(d.error.find("eth9: no such interface"), std::string::npos) << d.error;
  EXPECT_TRUE(ctx_.log_.saw("interface eth9: no such interface"));

  // Said once, not every interval.
  const auto lines = ctx_.log_.lines.size();
  plugin_->tick();
  for (auto i = lines; i < ctx_.log_.lines.size(); ++i)
    EXPECT_EQ(ctx_.log_.lines[i].find("eth9"), std::string::npos) << ctx_.log_.lines[i];
}

TEST_F(L2DiscoveryTest, SaysSoWhenTheInterfacesCannotBeListed) {
  list_error_ = "cannot list network interfaces: Permission denied";
  start();
  EXPECT_EQ(plugin_->status()["problems"]["*"].asString(), list_error_);
  EXPECT_TRUE(ctx_.log_.saw(list_error_));
  EXPECT_NE(discover().error.find(list_error_), std::string::npos);
}

TEST_F(L2DiscoveryTest, ALiveChangeAppliesAndABadOneIsRefused) {
  start();
  ctx_.config_["interval"] = 2;
  plugin_->config_changed();
  EXPECT_EQ(plugin_->status()["interval"].asInt(), 2);

  ctx_.config_["group"] = "ff0e::1";
  plugin_->config_changed();
  EXPECT_TRUE(ctx_.log_.saw("keeping the previous l2 settings"));
  EXPECT_EQ(plugin_->status()["group"].asString(), "ff02::ed6e:6967");
}

TEST_F(L2DiscoveryTest, IgnoresDatagramsAfterStop) {
  start();
  plugin_->stop();
  plugin_->on_datagram(announcement(kPeer, {"10.77.1.2"}), "eth0", from());
  EXPECT_TRUE(discover().candidates.empty());
  EXPECT_EQ(changed_events(), 0u);
}

}  // namespace
}  // namespace mnigs::l2
