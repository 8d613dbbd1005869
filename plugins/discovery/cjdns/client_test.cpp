// The admin client, the paging and the plugin itself against a small
// in-process cjdroute admin (UDP on 127.0.0.1, same io_context): paging
// until no "more", the password check, silence, a closed port, garbage
// datagrams, and what the plugin reports and logs.
#include <gtest/gtest.h>
#include <mnigs/plugin_abi.h>

#include <boost/asio/ip/udp.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <plugin_fakes.hpp>
#include <set>

#include "admin_protocol.hpp"
#include "collector.hpp"
#include "keys.hpp"
#include "real_replies.hpp"
#include "settings.hpp"

extern "C" const struct mnigs_plugin_info* mnigs_plugin_info();

namespace mnigs::cjdns {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
using bencode::Value;
using namespace std::chrono_literals;

// Keys whose addresses are in fc00::/8.
const std::vector<std::string> kKeys = {
    "dyh3fhkhmmx25f02bblyx80ydc3s3xsxtcrh957c1jy94yvfxc01.k",
    "t3ddmq078szxu2crkmw5slsxzlbd88mq4qfgh794l7nkgvsfj220.k",
    "p2kvsthsc29rxzb89b4qnr94q1qv21nln1xg36vszcndntg4ry90.k",
    "m2ynbz7vxvbph8w5vvf6uqz9dchgftm06hnz9su868x9hkmsp7s0.k",
    "n448g7wkb16u8k3jl5t5zkbnzuf6vdz1py0pfnpd7xy48zpks671.k",
    "12flj6q6y31g0fjumug89tr0cfryuk2qk0q09xl644uxjnw8ksn0.k",
    "5pk6xl8zlwm9xqww2f47g4vn64hmy8w82ffl9258syc1p67zlkp0.k",
};

std::string label(int n) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "0000.0000.0000.%04x", n);
  return buf;
}

// A cjdroute admin interface reduced to what discovery uses: cookies, the
// password check as admin/Admin.c does it, two paged functions.
class FakeAdmin {
 public:
  FakeAdmin(asio::io_context& io, std::string password)
      : socket_(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        password_(std::move(password)) {
    receive();
  }
  std::uint16_t port() const { return socket_.local_endpoint().port(); }

  std::size_t page_size = 4;
  std::vector<Value> table, peers;
  bool silent = false;         // never answer
  bool garbage_first = false;  // send junk before each answer
  bool has_peer_stats = true;
  bool endless = false;  // always announce "more"
  // Replies of the real cjdroute by "function page", sent as they are (with
  // the request's txid) instead of `table` and `peers`.
  std::map<std::string, Value> recorded;
  std::vector<std::string> calls;  // "function page" of each authenticated call

 private:
  void receive() {
    socket_.async_receive_from(asio::buffer(buf_), from_, [this](auto ec, std::size_t n) {
      if (ec) return;
      handle(std::string(buf_.data(), n));
      receive();
    });
  }

  void send(Value reply, const std::optional<std::string>& txid) {
    if (txid) reply.d["txid"] = Value::string(*txid);
    if (garbage_first) socket_.send_to(asio::buffer(std::string("d5:txid")), from_);
    std::string out = bencode::encode(reply);
    // Pad the first key's length the way cjdroute aligns its buffer.
    if (out.size() % 8) out.insert(1, std::string(8 - out.size() % 8, '0'));
    socket_.send_to(asio::buffer(out), from_);
  }

  void handle(const std::string& datagram) {
    if (silent) return;
    auto msg = bencode::decode(datagram, nullptr);
    if (!msg || !msg->is_dict()) return;
    auto txid = msg->get_string("txid");
    auto q = msg->get_string("q");
    if (q == "cookie") {
      auto r = Value::dict();
      // cjdroute's clock: wall-clock milliseconds / 1024.
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch());
      r.d["cookie"] = Value::string(std::to_string(ms.count() / 1024));
      return send(r, txid);
    }
    if (q != "auth" || !authentic(datagram, *msg)) {
      auto r = Value::dict();
      r.d["error"] = Value::string("Auth failed.");
      return send(r, txid);
    }
    std::string fn = msg->get_string("aq").value_or("");
    std::int64_t page = 0;
    if (const Value* args = msg->find("args")) page = args->get_integer("page").value_or(0);
    calls.push_back(fn + " " + std::to_string(page));
    if (auto it = recorded.find(fn + " " + std::to_string(page)); it != recorded.end())
      return send(it->second, txid);
    const std::vector<Value>* list = nullptr;
    std::string key;
    if (fn == kDumpTable) list = &table, key = "routingTable";
    if (fn == kPeerStats && has_peer_stats) list = &peers, key = "peers";
    auto r = Value::dict();
    if (!list) {
      r.d["error"] =
          Value::string("No functions matched your request, try Admin_availableFunctions()");
      return send(r, txid);
    }
    auto items = Value::list();
    std::size_t from = static_cast<std::size_t>(page) * page_size;
    for (std::size_t k = from; k < list->size() && k < from + page_size; ++k)
      items.l.push_back((*list)[k]);
    r.d[key] = items;
    if (endless || from + page_size < list->size()) r.d["more"] = Value::integer(1);
    send(r, txid);
  }

  bool authentic(const std::string& datagram, const Value& msg) {
    auto hash = msg.get_string("hash");
    auto cookie = msg.get_string("cookie");
    if (!hash || !cookie || hash->size() != 64) return false;
    std::string check = datagram;
    auto at = check.find(*hash);
    if (at == std::string::npos) return false;
    check.replace(at, 64, sha256_hex(password_ + *cookie));
    return sha256_hex(check) == *hash;
  }

  udp::socket socket_;
  std::string password_;
  std::array<char, 65536> buf_{};
  udp::endpoint from_;
};

Value table_entry(const std::string& key, int path) {
  std::string why;
  auto ip = key_to_ip(key, &why);
  auto e = Value::dict();
  e.d["ip"] = Value::string(format_ip(*ip));
  e.d["addr"] = Value::string("v20." + label(path) + "." + key);
  e.d["path"] = Value::string(label(path));
  e.d["link"] = Value::integer(0);
  return e;
}

Value peer_entry(const std::string& key, int path) {
  auto p = Value::dict();
  p.d["addr"] = Value::string("v20." + label(path) + "." + key);
  p.d["state"] = Value::string("ESTABLISHED");
  return p;
}

class CjdnsAdminTest : public ::testing::Test {
 protected:
  AdminTarget target(const std::string& password) {
    AdminTarget t;
    t.address = "127.0.0.1";
    t.port = admin.port();
    t.password = password;
    t.source = "/etc/cjdroute.conf";
    return t;
  }

  // Runs one round; fails the test if it does not complete.
  Collected round(const std::string& password, std::chrono::milliseconds timeout = 2s,
                  std::size_t max_pages = kMaxPages) {
    auto client = AdminClient::create(ctx.executor(), target(password), timeout,
                                      [this](const std::string& why) { malformed.push_back(why); });
    std::optional<Collected> out;
    collect(client, timeout, max_pages, [&](Collected c) { out = std::move(c); });
    for (int i = 0; i < 200 && !out; ++i) ctx.run_for(50ms);
    client->close();
    EXPECT_TRUE(out) << "the round did not complete";
    return out ? *out : Collected{};
  }

  std::string at() const { return "cjdroute admin at 127.0.0.1:" + std::to_string(admin.port()); }

  testing::FakeContext ctx{"cjdns"};
  FakeAdmin admin{ctx.io(), "s3cret"};
  std::vector<std::string> malformed;
};

TEST_F(CjdnsAdminTest, PagesThroughTableAndPeers) {
  for (int k = 0; k < 7; ++k) admin.table.push_back(table_entry(kKeys[k], 0x13 + 2 * k));
  admin.table.push_back(table_entry(kKeys[0], 0x1553));  // a second, longer path to a node
  admin.table.push_back(table_entry(kKeys[1], 0x1555));
  for (int k = 0; k < 5; ++k) admin.peers.push_back(peer_entry(kKeys[k], 0x13 + 2 * k));
  auto c = round("s3cret");
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(admin.calls,
            (std::vector<std::string>{"NodeStore_dumpTable 0", "NodeStore_dumpTable 1",
                                      "NodeStore_dumpTable 2", "InterfaceController_peerStats 0",
                                      "InterfaceController_peerStats 1"}));
  EXPECT_EQ(c.pages, 5u);
  EXPECT_EQ(c.nodes.candidates.size(), 7u);
  EXPECT_EQ(c.nodes.links.size(), 5u);
  std::set<std::string> nodes;
  for (const auto& cand : c.nodes.candidates) nodes.insert(cand.node);
  EXPECT_EQ(nodes, std::set<std::string>(kKeys.begin(), kKeys.end()));
  EXPECT_TRUE(malformed.empty());
}

TEST_F(CjdnsAdminTest, PagesThroughTheRealCjdroutesRepliesToTheEmptyLastPage) {
  admin.recorded = {
      {"NodeStore_dumpTable 0", real_reply("hub/02-NodeStore_dumpTable-page0.reply")},
      {"NodeStore_dumpTable 1", real_reply("hub/04-NodeStore_dumpTable-page1.reply")},
      {"NodeStore_dumpTable 2", real_reply("hub/06-NodeStore_dumpTable-page2.reply")},
      {"InterfaceController_peerStats 0",
       real_reply("hub/08-InterfaceController_peerStats-page0.reply")},
      {"InterfaceController_peerStats 1",
       real_reply("hub/10-InterfaceController_peerStats-page1.reply")},
  };
  auto c = round("s3cret");
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(admin.calls,
            (std::vector<std::string>{"NodeStore_dumpTable 0", "NodeStore_dumpTable 1",
                                      "NodeStore_dumpTable 2", "InterfaceController_peerStats 0",
                                      "InterfaceController_peerStats 1"}));
  EXPECT_EQ(c.nodes.candidates.size(), 7u);
  EXPECT_EQ(c.nodes.links.size(), 7u);
  EXPECT_TRUE(malformed.empty());
}

TEST_F(CjdnsAdminTest, WrongPasswordIsAClearError) {
  admin.table.push_back(table_entry(kKeys[0], 0x13));
  auto c = round("wrong");
  EXPECT_EQ(c.error, at() + " refused the password from /etc/cjdroute.conf (Auth failed.)");
  EXPECT_TRUE(admin.calls.empty());
}

TEST_F(CjdnsAdminTest, SilenceTimesOut) {
  admin.silent = true;
  auto c = round("s3cret", 300ms);
  EXPECT_EQ(c.error, "no reply from " + at() + " within 0.3 s");
}

TEST_F(CjdnsAdminTest, ClosedPortIsReported) {
  std::uint16_t port;
  {
    udp::socket probe(ctx.io(), udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  AdminTarget t = target("s3cret");
  t.port = port;
  auto client = AdminClient::create(ctx.executor(), t, 2s, nullptr);
  std::optional<Collected> out;
  collect(client, 2s, kMaxPages, [&](Collected c) { out = std::move(c); });
  for (int i = 0; i < 100 && !out; ++i) ctx.run_for(50ms);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->error, "cjdroute admin at 127.0.0.1:" + std::to_string(port) +
                            " is not answering (connection refused); is cjdroute running?");
}

TEST_F(CjdnsAdminTest, GarbageDatagramsAreSkipped) {
  admin.garbage_first = true;
  admin.table.push_back(table_entry(kKeys[0], 0x13));
  auto c = round("s3cret");
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(c.nodes.candidates.size(), 1u);
  ASSERT_FALSE(malformed.empty());
  EXPECT_NE(malformed[0].find("undecodable reply"), std::string::npos) << malformed[0];
}

TEST_F(CjdnsAdminTest, MissingPeerStatsStillReportsTheTable) {
  admin.has_peer_stats = false;
  admin.table.push_back(table_entry(kKeys[0], 0x13));
  auto c = round("s3cret");
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(c.nodes.candidates.size(), 1u);
  EXPECT_EQ(c.peers_note, at() +
                              " answered InterfaceController_peerStats with an error: No functions "
                              "matched your request, try Admin_availableFunctions()");
}

TEST_F(CjdnsAdminTest, EndlessPagingIsBounded) {
  admin.endless = true;
  admin.table.push_back(table_entry(kKeys[0], 0x13));
  auto c = round("s3cret", 2s, 6);
  EXPECT_EQ(c.error, at() + " still announced more pages of NodeStore_dumpTable after 6 pages");
  EXPECT_EQ(admin.calls.size(), 6u);
}

// ------------------------------------------------------------ the plugin

class CjdnsPluginTest : public CjdnsAdminTest {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/mnigs-cjdns-test-XXXXXX";
    ASSERT_TRUE(::mkdtemp(pattern));
    dir = pattern;
    conf = dir + "/cjdroute.conf";
    write_conf("s3cret");
    ctx.config_["confFile"] = conf;
    ctx.config_["adminFile"] = "";
    ctx.config_["timeout"] = 2000;
    const auto* info = mnigs_plugin_info();
    char err[256] = "";
    plugin.reset(static_cast<Plugin*>(info->create(&ctx, err, sizeof err)));
    ASSERT_TRUE(plugin) << err;
    ASSERT_STREQ(info->name, "cjdns");
    ASSERT_STREQ(info->kind, "discovery");
    plugin->start();
    admin.table.push_back(table_entry(kKeys[0], 0x13));
    admin.peers.push_back(peer_entry(kKeys[0], 0x13));
  }
  void TearDown() override {
    if (plugin) plugin->stop();
    plugin.reset();
    std::filesystem::remove_all(dir);
  }

  void write_conf(const std::string& password) {
    std::ofstream(conf) << "// cjdroute.conf\n{\n  \"admin\": {\n    // admin RPC\n    \"bind\": "
                           "\"127.0.0.1:"
                        << admin.port() << "\",\n    \"password\": \"" << password
                        << "\"\n  }\n}\n";
  }

  Discovery discover() {
    std::optional<Discovery> out;
    plugin->as_discovery()->discover([&](Discovery d) { out = std::move(d); });
    for (int i = 0; i < 200 && !out; ++i) ctx.run_for(50ms);
    EXPECT_TRUE(out) << "discover() did not answer";
    return out ? *out : Discovery{};
  }

  std::size_t log_lines_with(const std::string& text) const {
    std::size_t n = 0;
    for (const auto& l : ctx.log_.lines) n += l.find(text) != std::string::npos;
    return n;
  }

  std::string dir, conf;
  std::unique_ptr<Plugin> plugin;
};

TEST_F(CjdnsPluginTest, ReportsNodesPeersAndStatus) {
  EXPECT_EQ(plugin->as_discovery()->network(), "cjdns");
  Discovery d = discover();
  EXPECT_EQ(d.error, "");
  ASSERT_EQ(d.candidates.size(), 1u);
  EXPECT_EQ(d.candidates[0].address, "fc72:f475:6337:b8c8:3d2c:70ec:f0dd:64a");
  ASSERT_EQ(d.links.size(), 1u);
  EXPECT_EQ(d.links[0].to, kKeys[0]);
  Json::Value s = plugin->status();
  EXPECT_EQ(s["error"].asString(), "");
  EXPECT_EQ(s["nodes"].asInt(), 1);
  EXPECT_EQ(s["peers"].asInt(), 1);
  EXPECT_EQ(s["source"].asString(), conf);
  EXPECT_GT(s["lastUpdate"].asInt64(), 0);
}

TEST_F(CjdnsPluginTest, WrongPasswordIsReportedAndLoggedOncePerChange) {
  ASSERT_EQ(discover().error, "");
  write_conf("wrong");
  const std::string error = at() + " refused the password from " + conf + " (Auth failed.)";
  for (int attempt = 0; attempt < 3; ++attempt) {
    Discovery d = discover();
    EXPECT_EQ(d.error, error);
    EXPECT_EQ(d.candidates.size(), 1u) << "what it knew before is still reported";
    EXPECT_EQ(plugin->status()["error"].asString(), error);
  }
  std::size_t warned = 0;
  for (const auto& l : ctx.log_.lines) warned += l == error;
  EXPECT_EQ(warned, 1u) << "logged when it appeared, not at every attempt";

  // Fixed in the file: it applies at the next discovery, without a restart.
  write_conf("s3cret");
  EXPECT_EQ(discover().error, "");
  EXPECT_EQ(plugin->status()["error"].asString(), "");
  EXPECT_EQ(log_lines_with("answers"), 2u) << "at first success and after the error cleared";
}

TEST_F(CjdnsPluginTest, MissingConfIsAnError) {
  EXPECT_EQ(discover().error, "") << "the round the plugin began at start";
  std::filesystem::remove(conf);
  Discovery d = discover();
  EXPECT_EQ(d.error, "cannot read " + conf + ": No such file or directory");
  EXPECT_EQ(plugin->status()["error"].asString(), d.error);
}

TEST_F(CjdnsPluginTest, ConcurrentDiscoveriesShareOneRound) {
  int answered = 0;
  for (int k = 0; k < 3; ++k)
    plugin->as_discovery()->discover([&](Discovery d) {
      EXPECT_EQ(d.error, "");
      ++answered;
    });
  for (int i = 0; i < 200 && answered < 3; ++i) ctx.run_for(50ms);
  EXPECT_EQ(answered, 3);
  EXPECT_EQ(admin.calls.size(), 2u) << "one dumpTable and one peerStats call for all three";
}

TEST_F(CjdnsPluginTest, StopAnswersWaitingCallers) {
  admin.silent = true;
  std::optional<Discovery> out;
  plugin->as_discovery()->discover([&](Discovery d) { out = std::move(d); });
  ctx.poll();
  plugin->stop();
  ASSERT_TRUE(out);
  EXPECT_EQ(out->error, "the cjdns plugin stopped");
  // Nothing of the abandoned round runs afterwards.
  ctx.run_for(100ms);
}

}  // namespace
}  // namespace mnigs::cjdns
