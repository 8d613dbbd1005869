// The static discovery plugin through its entry point, on a fake context:
// its keys, what discover() reports, a bad list at start and after a live
// change, and static.listPeers.
#include <mnigs/plugin.hpp>
#include <mnigs/plugin_abi.h>

#include <plugin_fakes.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

extern "C" const struct mnigs_plugin_info* mnigs_plugin_info();

namespace mnigs {
namespace {

Json::Value list(std::vector<std::string> entries) {
  Json::Value v(Json::arrayValue);
  for (auto& e : entries) v.append(e);
  return v;
}

using Keys = mnigs::testing::RecordingDeclarer;

TEST(StaticPlugin, DeclaresTheKeysItsReadmeLists) {
  const auto* info = mnigs_plugin_info();
  EXPECT_STREQ(info->name, "static");
  EXPECT_STREQ(info->kind, "discovery");
  Keys k;
  char err[256] = "";
  ASSERT_EQ(info->declare(&k, err, sizeof err), 0) << err;
  ASSERT_EQ(k.keys.size(), 2u);
  EXPECT_EQ(k.at("peers").type, ValueType::string_list);
  EXPECT_EQ(k.at("peers").default_value, Json::Value(Json::arrayValue));
  EXPECT_TRUE(k.at("peers").live) << "the README says a new list applies without a restart";
  EXPECT_EQ(k.at("network").type, ValueType::string);
  EXPECT_EQ(k.at("network").default_value, "static");
}

class StaticPluginTest : public ::testing::Test {
 protected:
  StaticPluginTest() {
    ctx.config_["peers"] = Json::Value(Json::arrayValue);
    ctx.config_["network"] = "static";
  }
  void TearDown() override {
    if (plugin) plugin->stop();
  }

  // Creates the plugin and starts it; the exception start() throws, as text.
  std::string start(Json::Value peers) {
    ctx.config_["peers"] = std::move(peers);
    char err[256] = "";
    plugin.reset(static_cast<Plugin*>(mnigs_plugin_info()->create(&ctx, err, sizeof err)));
    if (!plugin) return std::string("create failed: ") + err;
    if (!plugin->as_discovery()) return "not a discovery plugin";
    try {
      plugin->start();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }

  Discovery discover() {
    int calls = 0;
    Discovery out;
    plugin->as_discovery()->discover([&](Discovery d) {
      ++calls;
      out = std::move(d);
    });
    ctx.poll();
    EXPECT_EQ(calls, 1) << "discover() must answer exactly once";
    return out;
  }

  Json::Value list_peers() {
    Json::Value got;
    bool ok = false;
    ctx.methods.at("listPeers")(Json::Value(), CallInfo{}, Responder([&](bool o, Json::Value p) {
                                  ok = o;
                                  got = std::move(p);
                                }));
    ctx.poll();
    EXPECT_TRUE(ok) << got.toStyledString();
    return got;
  }

  testing::FakeContext ctx{"static"};
  std::unique_ptr<Plugin> plugin;
};

using Peers = std::vector<std::pair<std::string, std::uint16_t>>;

Peers peers_of(const Discovery& d) {
  Peers out;
  for (const auto& c : d.candidates) out.emplace_back(c.address, c.port);
  return out;
}

TEST_F(StaticPluginTest, DiscoverReportsTheConfiguredPeersInOrder) {
  ASSERT_EQ(start(list({"10.0.0.2", "10.0.0.3:65534", "[fd00::2]:65533"})), "");
  EXPECT_EQ(plugin->as_discovery()->network(), "static");
  Discovery d = discover();
  EXPECT_EQ(d.error, "");
  EXPECT_TRUE(d.links.empty()) << "the config says nothing about links";
  EXPECT_EQ(peers_of(d), (Peers{{"10.0.0.2", 0}, {"10.0.0.3", 65534}, {"fd00::2", 65533}}));
  for (const auto& c : d.candidates) EXPECT_EQ(c.detail, "static peer");
  // Asked again, it reports the same: nothing is consumed.
  EXPECT_EQ(peers_of(discover()), peers_of(d));
}

TEST_F(StaticPluginTest, AnEmptyListFindsNobodyWithoutAnError) {
  ASSERT_EQ(start(Json::Value(Json::arrayValue)), "");
  Discovery d = discover();
  EXPECT_EQ(d.error, "");
  EXPECT_TRUE(d.candidates.empty());
}

TEST_F(StaticPluginTest, NetworkNameComesFromTheConfig) {
  ctx.config_["network"] = "babel";
  ASSERT_EQ(start(list({"10.0.0.2"})), "");
  EXPECT_EQ(plugin->as_discovery()->network(), "babel");
}

// The same node written twice, or in two spellings, is not a config error.
// What matters downstream is the set of (address, port) pairs; the scanner
// merges candidates that share an address into one node.
TEST_F(StaticPluginTest, DuplicatesAreNotAnError) {
  ASSERT_EQ(start(list({"10.0.0.2", "10.0.0.2", "10.0.0.2:65534", "fd00::2", "FD00:0::2",
                        "[fd00::2]"})),
            "");
  auto reported = peers_of(discover());
  std::set<std::pair<std::string, std::uint16_t>> distinct(reported.begin(), reported.end());
  using Set = decltype(distinct);
  EXPECT_EQ(distinct, (Set{{"10.0.0.2", 0}, {"10.0.0.2", 65534}, {"fd00::2", 0}}));
}

TEST_F(StaticPluginTest, ABadEntryAtStartFailsThePluginNamingTheEntry) {
  std::string error = start(list({"10.0.0.2", "gateway.lan:65534", "10.0.0.3:0"}));
  EXPECT_EQ(error,
            "static.peers: \"gateway.lan:65534\" is not an IPv4 or IPv6 address (write ADDRESS, "
            "ADDRESS:PORT or [IPv6]:PORT)");
}

TEST_F(StaticPluginTest, ALiveChangeAppliesAndABadOneKeepsThePreviousList) {
  ASSERT_EQ(start(list({"10.0.0.2"})), "");

  ctx.config_["peers"] = list({"10.0.0.4:65534", "fd00::4"});
  plugin->config_changed();
  EXPECT_EQ(peers_of(discover()), (Peers{{"10.0.0.4", 65534}, {"fd00::4", 0}}));

  ctx.config_["peers"] = list({"10.0.0.5", "[fd00::5]65533"});
  plugin->config_changed();
  EXPECT_TRUE(ctx.log_.saw("static.peers: \"[fd00::5]65533\" must be [IPv6]:PORT; keeping the "
                           "previous list"))
      << "the error is logged";
  EXPECT_EQ(peers_of(discover()), (Peers{{"10.0.0.4", 65534}, {"fd00::4", 0}}))
      << "nothing of a bad list is taken, not even its good entries";
}

TEST_F(StaticPluginTest, ListPeersShowsTheListInUse) {
  ASSERT_EQ(start(list({"10.0.0.2", "[fd00::2]:65533"})), "");
  Json::Value got = list_peers();
  ASSERT_TRUE(got["peers"].isArray()) << got.toStyledString();
  ASSERT_EQ(got["peers"].size(), 2u);
  EXPECT_EQ(got["peers"][0]["address"], "10.0.0.2");
  EXPECT_EQ(got["peers"][0]["port"], 0) << "0: every scan port";
  EXPECT_EQ(got["peers"][1]["address"], "fd00::2");
  EXPECT_EQ(got["peers"][1]["port"], 65533);
  EXPECT_EQ(plugin->status(), got);

  ctx.config_["peers"] = list({"10.0.0.9"});
  plugin->config_changed();
  got = list_peers();
  ASSERT_EQ(got["peers"].size(), 1u);
  EXPECT_EQ(got["peers"][0]["address"], "10.0.0.9");
}

}  // namespace
}  // namespace mnigs
