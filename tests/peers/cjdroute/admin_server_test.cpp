// The cjdroute stand-in checks requests the way cjdroute does, and answers
// as cjdroute v21.1 answers. Requests here were built by Python's hashlib and
// a plain bencoder, as cjdns' contrib/python/cjdnsadmin builds them, not by
// the plugin under test; replies are compared with those of the real
// cjdroute in plugins/discovery/cjdns/testdata/admin-v21.1.
#include "admin_server.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>

namespace cjdroute_peer {
namespace {

// Python: cookie "1700000000", password "NONE", NodeStore_dumpTable page 1, txid "py1".
const std::string kPythonRequest =
    "d2:aq19:NodeStore_dumpTable4:argsd4:pagei1ee6:cookie10:1700000000"
    "4:hash64:08bf15f2180b4666f2c057915be06453b567c7367282cc08c91451c0ef4673c9"
    "1:q4:auth4:txid3:py1e";
constexpr std::uint64_t kCookieTime = 1700000000;
// The wall-clock milliseconds at which cjdroute hands out kCookieTime.
constexpr std::uint64_t kCookieMs = kCookieTime * 1024;

const char* kKeys[] = {
    "dyh3fhkhmmx25f02bblyx80ydc3s3xsxtcrh957c1jy94yvfxc01.k",
    "t3ddmq078szxu2crkmw5slsxzlbd88mq4qfgh794l7nkgvsfj220.k",
    "p2kvsthsc29rxzb89b4qnr94q1qv21nln1xg36vszcndntg4ry90.k",
};

AdminServer server(const std::string& password, std::size_t self_at = 0, std::size_t nodes = 3) {
  AdminServer s(password, kCookieMs - 60000);
  Node self;
  self.key = "nrjgkkj95zb3thx1uctcurrtu6jl4c71bgl9pm4ydtvsfshltr50.k";
  self.ip = *key_to_ip(self.key);
  self.path = "0000.0000.0000.0001";
  self.link = 0;
  self.bucket = 127;
  s.set_self(self, self_at);
  for (std::size_t i = 0; i < nodes; ++i) {
    Node n;
    n.key = kKeys[i % 3];
    n.ip = *key_to_ip(n.key);
    n.path = "0000.0000.0000.0013";
    s.add_node(n);
    n.user = i % 2 ? "" : "default-login";
    s.add_peer(n);
  }
  return s;
}

Benc decode(const std::optional<std::string>& reply) {
  EXPECT_TRUE(reply);
  auto m = read_message(reply.value_or(""));
  EXPECT_TRUE(m) << reply.value_or("");
  return m.value_or(Benc{});
}

std::string request(const std::string& function, int page) {
  return "d1:q" + std::to_string(function.size()) + ":" + function + "4:argsd4:pagei" +
         std::to_string(page) + "ee4:txid2:t1e";
}

const std::vector<Benc>& items(const Benc& reply, const std::string& list) {
  return reply.entries.at(list).items;
}

std::set<std::string> keys_of(const Benc& dict) {
  std::set<std::string> out;
  for (const auto& [k, v] : dict.entries) out.insert(k);
  return out;
}

Benc real_reply(const std::string& file) {
  std::ifstream in(std::string(MNIGS_CJDNS_TESTDATA) + "/admin-v21.1/" + file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto m = read_message(bytes);
  EXPECT_TRUE(m) << file;
  return m.value_or(Benc{});
}

TEST(CjdroutePeer, DerivesAddressesFromKeys) {
  EXPECT_EQ(key_to_ip("u2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8u0.k"),
            "fcff:a215:1e7b:a4e9:c00d:0813:93b3:7c87");
  EXPECT_FALSE(key_to_ip("u2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8u0"));
}

TEST(CjdroutePeer, AcceptsAReferenceClientsRequest) {
  auto s = server("NONE", 0, 5);
  Benc r = decode(s.handle(kPythonRequest, kCookieMs + 5000));
  EXPECT_EQ(r.get_str("error"), nullptr);
  ASSERT_TRUE(r.get_str("txid"));
  EXPECT_EQ(*r.get_str("txid"), "py1");
  // Page 1 of self + 5 nodes at 4 a page: the last page, not full, no "more".
  EXPECT_EQ(items(r, "routingTable").size(), 2u);
  EXPECT_EQ(r.get_int("more"), nullptr);
  EXPECT_EQ(*r.get_int("count"), 6);
}

TEST(CjdroutePeer, RefusesWrongPasswordTamperingAndStaleCookies) {
  auto wrong = server("other");
  EXPECT_EQ(*decode(wrong.handle(kPythonRequest, kCookieMs)).get_str("error"),
            *real_reply("wrong-password/02-NodeStore_dumpTable-page0.reply").get_str("error"));
  auto s = server("NONE");
  std::string tampered = kPythonRequest;
  tampered.replace(tampered.find("pagei1e"), 7, "pagei2e");
  EXPECT_EQ(*decode(s.handle(tampered, kCookieMs)).get_str("error"), "Auth failed.");
  // 20 of cjdroute's 1024 ms "seconds" is the limit: 21 is too old.
  EXPECT_EQ(decode(s.handle(kPythonRequest, kCookieMs + 20 * 1024)).get_str("error"), nullptr);
  EXPECT_EQ(*decode(s.handle(kPythonRequest, kCookieMs + 21 * 1024)).get_str("error"),
            "Auth failed.")
      << "a stale cookie";
  EXPECT_EQ(*decode(s.handle(kPythonRequest, kCookieMs - 1)).get_str("error"), "Auth failed.")
      << "a cookie from the future";
}

TEST(CjdroutePeer, CookiesAreWallClockMillisecondsOver1024) {
  auto s = server("NONE");
  auto reply = s.handle("d1:q6:cookie4:txid2:abe", 1796406980123);
  EXPECT_EQ(*decode(reply).get_str("cookie"), std::to_string(1796406980123 / 1024));
  // The real one: a cookie taken when the clock read 1796406980 s.
  Benc real = real_reply("hub/01-cookie.reply");
  auto cookie = std::stoull(*real.get_str("cookie"));
  EXPECT_LE(cookie * 1024, 1796407200000u);
  EXPECT_GE(cookie * 1024, 1796406900000u);
}

TEST(CjdroutePeer, PadsTheFirstKeyLikeCjdroute) {
  auto s = server("NONE");
  auto reply = s.handle("d1:q6:cookie4:txid2:abe", kCookieMs);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->size() % 8, 0u);
  EXPECT_EQ(reply->rfind("d0", 0), 0u) << *reply;
  EXPECT_EQ(*decode(reply).get_str("cookie"), "1700000000");
}

TEST(CjdroutePeer, PagesTheTableAsCjdrouteDoes) {
  // Self + 7 nodes: two full pages of 4, each with "more", then an empty one.
  auto s = server("NONE", 5, 7);
  Benc p0 = decode(s.handle(request("NodeStore_dumpTable", 0), kCookieMs));
  Benc p1 = decode(s.handle(request("NodeStore_dumpTable", 1), kCookieMs));
  Benc p2 = decode(s.handle(request("NodeStore_dumpTable", 2), kCookieMs));
  EXPECT_EQ(items(p0, "routingTable").size(), 4u);
  EXPECT_EQ(items(p1, "routingTable").size(), 4u);
  EXPECT_EQ(items(p2, "routingTable").size(), 0u);
  EXPECT_TRUE(p0.get_int("more"));
  EXPECT_TRUE(p1.get_int("more")) << "a full page carries \"more\" even when it is the last";
  EXPECT_EQ(p2.get_int("more"), nullptr);
  // This node sits where the node store puts it, here sixth, as the real
  // leaf capture has it in the middle of page 1.
  const Benc& self = items(p1, "routingTable")[1];
  EXPECT_EQ(*self.get_str("path"), "0000.0000.0000.0001");
  EXPECT_EQ(*self.get_int("bucket"), 127);
  EXPECT_EQ(*self.get_int("link"), 0);
  const Benc real_page = real_reply("leaf/04-NodeStore_dumpTable-page1.reply");
  const Benc& real_self = items(real_page, "routingTable")[1];
  EXPECT_EQ(*real_self.get_str("path"), "0000.0000.0000.0001");
  EXPECT_EQ(*real_self.get_int("bucket"), 127);
  EXPECT_EQ(*real_self.get_int("link"), 0);
}

TEST(CjdroutePeer, PagesPeersSixAtATimeWithMoreOnlyWhenSomeRemain) {
  auto six = server("NONE", 0, 6);
  Benc only = decode(six.handle(request("InterfaceController_peerStats", 0), kCookieMs));
  EXPECT_EQ(items(only, "peers").size(), 6u);
  EXPECT_EQ(only.get_int("more"), nullptr);
  auto seven = server("NONE", 0, 7);
  Benc first = decode(seven.handle(request("InterfaceController_peerStats", 0), kCookieMs));
  Benc second = decode(seven.handle(request("InterfaceController_peerStats", 1), kCookieMs));
  EXPECT_EQ(items(first, "peers").size(), 6u);
  EXPECT_TRUE(first.get_int("more"));
  EXPECT_EQ(items(second, "peers").size(), 1u);
  EXPECT_EQ(second.get_int("more"), nullptr);
  EXPECT_EQ(*second.get_int("total"), 7);
  // As the real hub's seven peers came.
  EXPECT_EQ(items(real_reply("hub/08-InterfaceController_peerStats-page0.reply"), "peers").size(),
            6u);
  EXPECT_TRUE(real_reply("hub/08-InterfaceController_peerStats-page0.reply").get_int("more"));
  EXPECT_EQ(items(real_reply("hub/10-InterfaceController_peerStats-page1.reply"), "peers").size(),
            1u);
}

TEST(CjdroutePeer, EntriesCarryTheFieldsOfTheRealOnes) {
  auto s = server("NONE", 0, 3);
  Benc table = decode(s.handle(request("NodeStore_dumpTable", 0), kCookieMs));
  Benc real_table = real_reply("hub/02-NodeStore_dumpTable-page0.reply");
  EXPECT_EQ(keys_of(table), keys_of(real_table));
  EXPECT_EQ(keys_of(items(table, "routingTable")[1]),
            keys_of(items(real_table, "routingTable")[1]));

  Benc peers = decode(s.handle(request("InterfaceController_peerStats", 0), kCookieMs));
  Benc real_peers = real_reply("hub/08-InterfaceController_peerStats-page0.reply");
  std::set<std::string> top = keys_of(real_peers);
  top.erase("more");  // the real hub had seven peers
  EXPECT_EQ(keys_of(peers), top);
  // "user" is there for peers that logged in with one (all the real hub's did).
  EXPECT_EQ(keys_of(items(peers, "peers")[0]), keys_of(items(real_peers, "peers")[0]));
  auto without_user = keys_of(items(real_peers, "peers")[0]);
  without_user.erase("user");
  EXPECT_EQ(keys_of(items(peers, "peers")[1]), without_user);
}

TEST(CjdroutePeer, PeerCountersMove) {
  auto s = server("NONE", 0, 1);
  Benc before = decode(s.handle(request("InterfaceController_peerStats", 0), kCookieMs));
  Benc after = decode(s.handle(request("InterfaceController_peerStats", 0), kCookieMs + 10000));
  for (const char* counter : {"bytesIn", "bytesOut", "receivedPackets", "last"})
    EXPECT_GT(*items(after, "peers")[0].get_int(counter),
              *items(before, "peers")[0].get_int(counter))
        << counter;
}

TEST(CjdroutePeer, AnswersErrorsAsCjdrouteDoes) {
  auto s = server("NONE");
  EXPECT_EQ(*decode(s.handle("d1:q8:Nonsense4:txid1:xe", kCookieMs)).get_str("error"),
            *real_reply("errors/06-No_suchFunction.reply").get_str("error"));
  EXPECT_EQ(*decode(s.handle("d1:q19:NodeStore_dumpTablee", kCookieMs)).get_str("error"),
            *real_reply("errors/04-NodeStore_dumpTable-nopage.reply").get_str("error"));
  EXPECT_EQ(*decode(s.handle("d1:q4:pinge", kCookieMs)).get_str("q"), "pong");
  EXPECT_EQ(s.handle(std::string(600, 'x'), kCookieMs), "d5:error16:Request too big.e");
  EXPECT_FALSE(s.handle("d1:q4:pingegarbage", kCookieMs)) << "garbage after the dict: dropped";
  EXPECT_FALSE(s.handle("not bencode", kCookieMs));
}

// An authenticated request, as contrib/python/cjdnsadmin makes one: the
// hash of password + cookie in "hash", the whole message hashed, and that
// hash put in its place. (The hashing itself is checked against Python's
// above; this only saves writing each request by hand.)
std::string authed(const std::string& function, const Benc& args,
                   const std::string& password = "NONE") {
  Benc m = Benc::new_dict();
  m.entries["q"] = Benc::of("auth");
  m.entries["aq"] = Benc::of(function);
  m.entries["args"] = args;
  m.entries["cookie"] = Benc::of(std::to_string(kCookieTime));
  m.entries["txid"] = Benc::of("t2");
  m.entries["hash"] = Benc::of(sha256_hex(password + std::to_string(kCookieTime)));
  m.entries["hash"] = Benc::of(sha256_hex(write(m)));
  return write(m);
}

Benc num(std::int64_t n) { return Benc::of(n); }

Benc args_of(std::initializer_list<std::pair<const char*, Benc>> list) {
  Benc d = Benc::new_dict();
  for (const auto& [k, v] : list) d.entries[k] = v;
  return d;
}

Benc connection(std::int64_t n) { return args_of({{"connection", num(n)}}); }

// tunnel/IpTunnel_admin.c of cjdns v22.3: the arguments' names, the checks
// in their order with their strings, the replies' shapes.
TEST(CjdroutePeer, IpTunnelAllowsConnectsListsShowsAndRemoves) {
  auto s = server("NONE");
  auto call = [&](const std::string& function, const Benc& args) {
    return decode(s.handle(authed(function, args), kCookieMs + 1000));
  };
  const std::string sub = kKeys[0], gw = kKeys[1];

  // Needs auth: without it, the function does not exist.
  EXPECT_EQ(*decode(s.handle("d1:q24:IpTunnel_listConnectionse", kCookieMs)).get_str("error"),
            "No functions matched your request, try Admin_availableFunctions()");

  Benc allowed = call("IpTunnel_allowConnection",
                      args_of({{"publicKeyOfAuthorizedNode", Benc::of(sub)},
                               {"ip4Address", Benc::of("10.92.0.2")},
                               {"ip4Prefix", num(0)},
                               {"ip4Alloc", num(32)},
                               {"ip6Address", Benc::of("fd92:0:0::2")},
                               {"ip6Prefix", num(0)},
                               {"ip6Alloc", num(64)}}));
  EXPECT_EQ(*allowed.get_str("error"), "none");
  EXPECT_EQ(*allowed.get_int("connection"), 0);
  EXPECT_EQ(*allowed.get_str("txid"), "t2");
  Benc out = call("IpTunnel_connectTo", args_of({{"publicKeyOfNodeToConnectTo", Benc::of(gw)}}));
  EXPECT_EQ(*out.get_int("connection"), 1);
  // A second allowance goes ahead of the outgoing one; defaults 32 and 128.
  Benc second = call("IpTunnel_allowConnection",
                     args_of({{"publicKeyOfAuthorizedNode", Benc::of(kKeys[2])},
                              {"ip4Address", Benc::of("10.92.0.3")}}));
  EXPECT_EQ(*second.get_int("connection"), 2);

  Benc list = call("IpTunnel_listConnections", Benc::new_dict());
  ASSERT_EQ(items(list, "connections").size(), 3u);
  EXPECT_EQ(items(list, "connections")[0].num, 0);
  EXPECT_EQ(items(list, "connections")[1].num, 2);
  EXPECT_EQ(items(list, "connections")[2].num, 1);
  EXPECT_EQ(*list.get_str("error"), "none");

  Benc shown = call("IpTunnel_showConnection", connection(0));
  EXPECT_EQ(keys_of(shown),
            (std::set<std::string>{"error", "ip4Address", "ip4Alloc", "ip4Prefix", "ip6Address",
                                   "ip6Alloc", "ip6Prefix", "key", "outgoing", "txid"}));
  EXPECT_EQ(*shown.get_str("ip6Address"), "fd92::2");  // printed as Sockaddr_print prints
  EXPECT_EQ(*shown.get_int("ip6Alloc"), 64);
  EXPECT_EQ(*shown.get_int("ip4Prefix"), 0);
  EXPECT_EQ(*shown.get_str("key"), sub);
  EXPECT_EQ(*shown.get_int("outgoing"), 0);
  Benc pending = call("IpTunnel_showConnection", connection(1));
  EXPECT_EQ(keys_of(pending), (std::set<std::string>{"error", "key", "outgoing", "txid"}))
      << "an outgoing connection has no addresses until the server's arrive";
  EXPECT_EQ(*pending.get_int("outgoing"), 1);
  Benc defaults = call("IpTunnel_showConnection", connection(2));
  EXPECT_EQ(*defaults.get_int("ip4Prefix"), 32);
  EXPECT_EQ(*defaults.get_int("ip4Alloc"), 32);
  EXPECT_EQ(defaults.get_str("ip6Address"), nullptr);

  Benc removed = call("IpTunnel_removeConnection", connection(0));
  EXPECT_EQ(*removed.get_str("error"), "none");
  EXPECT_EQ(*removed.get_int("connection"), 0);
  EXPECT_EQ(*call("IpTunnel_removeConnection", connection(0))
                 .get_str("error"),
            "not_found");
  EXPECT_EQ(*call("IpTunnel_showConnection", connection(0))
                 .get_str("error"),
            "connection not found");
  // Numbers are never reused.
  Benc again = call("IpTunnel_allowConnection",
                    args_of({{"publicKeyOfAuthorizedNode", Benc::of(sub)},
                             {"ip6Address", Benc::of("fd92::2")}}));
  EXPECT_EQ(*again.get_int("connection"), 3);
}

TEST(CjdroutePeer, IpTunnelRefusesAsCjdrouteDoes) {
  auto s = server("NONE");
  auto error_of = [&](const std::string& function, const Benc& args) {
    Benc r = decode(s.handle(authed(function, args), kCookieMs + 1000));
    return r.get_str("error") ? *r.get_str("error") : std::string("(none)");
  };
  const Benc key = Benc::of(std::string(kKeys[0]));
  auto allow = [&](std::initializer_list<std::pair<const char*, Benc>> extra) {
    Benc a = args_of(extra);
    if (!a.entries.count("publicKeyOfAuthorizedNode"))
      a.entries["publicKeyOfAuthorizedNode"] = key;
    return error_of("IpTunnel_allowConnection", a);
  };
  // admin/Admin.c checkArgs(): a required argument missing or of another type.
  EXPECT_EQ(error_of("IpTunnel_allowConnection", args_of({{"ip4Address", Benc::of("10.0.0.1")}})),
            "Entry [publicKeyOfAuthorizedNode] is required and must be of type [String]");
  EXPECT_EQ(error_of("IpTunnel_removeConnection", args_of({{"connection", Benc::of("0")}})),
            "Entry [connection] is required and must be of type [Int]");
  EXPECT_EQ(error_of("IpTunnel_connectTo", Benc::new_dict()),
            "Entry [publicKeyOfNodeToConnectTo] is required and must be of type [String]");
  // The checks of IpTunnel_admin.c, in their order.
  EXPECT_EQ(allow({}), "Must specify ip6Address or ip4Address");
  EXPECT_EQ(allow({{"publicKeyOfAuthorizedNode", Benc::of("short.k")}}),
            "Must specify ip6Address or ip4Address")
      << "the addresses are checked before the key";
  EXPECT_EQ(allow({{"publicKeyOfAuthorizedNode", Benc::of("short.k")},
                   {"ip4Address", Benc::of("10.0.0.1")}}),
            "key must be 52 characters long");
  const std::string k = kKeys[0];
  EXPECT_EQ(allow({{"publicKeyOfAuthorizedNode", Benc::of(k.substr(0, 52) + ".x")},
                   {"ip4Address", Benc::of("10.0.0.1")}}),
            "key must end in .k");
  EXPECT_EQ(allow({{"publicKeyOfAuthorizedNode", Benc::of(std::string(52, 'a') + ".k")},
                   {"ip4Address", Benc::of("10.0.0.1")}}),
            "failed to base-32 decode key");
  EXPECT_EQ(allow({{"publicKeyOfAuthorizedNode", Benc::of(std::string(52, '0') + ".k")},
                   {"ip4Address", Benc::of("10.0.0.1")}}),
            "not a valid cjdns public key");
  EXPECT_EQ(allow({{"ip4Address", Benc::of("10.0.0.1")}, {"ip6Prefix", num(0)}}),
            "Must specify ip6Address with ip6Prefix");
  EXPECT_EQ(allow({{"ip4Address", Benc::of("10.0.0.1")}, {"ip6Alloc", num(64)}}),
            "Must specify ip6Address with ip6Alloc");
  EXPECT_EQ(allow({{"ip6Address", Benc::of("fd00::1")}, {"ip6Prefix", num(129)}}),
            "ip6Prefix out of range: must be 0 to 128");
  EXPECT_EQ(allow({{"ip6Address", Benc::of("fd00::1")}, {"ip6Alloc", num(0)}}),
            "ip6Alloc out of range: must be 1 to 128");
  EXPECT_EQ(allow({{"ip6Address", Benc::of("fd00::1")}, {"ip4Prefix", num(0)}}),
            "Must specify ip4Address with ip4Prefix");
  EXPECT_EQ(allow({{"ip6Address", Benc::of("fd00::1")}, {"ip4Alloc", num(32)}}),
            "Must specify ip4Address with ip4Alloc");
  EXPECT_EQ(allow({{"ip4Address", Benc::of("10.0.0.1")}, {"ip4Prefix", num(33)}}),
            "ip4Prefix out of range: must be 0 to 32");
  EXPECT_EQ(allow({{"ip4Address", Benc::of("10.0.0.1")}, {"ip4Alloc", num(0)}}),
            "ip4Alloc out of range: must be 1 to 32");
  EXPECT_EQ(allow({{"ip6Address", Benc::of("10.0.0.1")}}), "malformed ip6Address");
  EXPECT_EQ(allow({{"ip4Address", Benc::of("fd00::1")}}), "malformed ip4Address");
  EXPECT_EQ(allow({{"ip4Address", Benc::of("10.0.0.300")}}), "malformed ip4Address");
  // An optional argument of another type is as good as absent: the
  // default /32 then.
  EXPECT_EQ(allow({{"ip4Address", Benc::of("10.0.0.1")}, {"ip4Prefix", Benc::of("24")}}), "none");
  EXPECT_EQ(error_of("IpTunnel_connectTo",
                     args_of({{"publicKeyOfNodeToConnectTo", Benc::of(std::string("x.k"))}})),
            "key must be 52 characters long");
  // A wrong password: cjdroute's one answer.
  EXPECT_EQ(*decode(s.handle(authed("IpTunnel_listConnections", Benc::new_dict(), "wrong"),
                             kCookieMs + 1000))
                 .get_str("error"),
            "Auth failed.");
}

}  // namespace
}  // namespace cjdroute_peer

namespace cjdroute_peer {
namespace {

// admin/angel/Core.c nodeInfo() of cjdns v22.3: no auth needed; the own key
// in Address_toStringKey's form and the address it owns.
TEST(CjdroutePeer, NodeInfoNamesTheNodesOwnKeyAsCoreDoes) {
  auto s = server("NONE");
  Benc info = decode(s.handle("d1:q13:Core_nodeInfo4:txid2:n1e", kCookieMs));
  EXPECT_EQ(keys_of(info), (std::set<std::string>{"compressedSchemeHex", "encodingScheme",
                                                  "error", "myAddr", "myIp6", "txid", "version"}));
  EXPECT_EQ(*info.get_str("myAddr"),
            "v22.0000.0000.0000.0001.nrjgkkj95zb3thx1uctcurrtu6jl4c71bgl9pm4ydtvsfshltr50.k");
  EXPECT_EQ(*info.get_str("myIp6"), "fc5c:afd5:da49:0bc6:88ba:7327:e665:ae01");
  EXPECT_EQ(*info.get_int("version"), 22);
  EXPECT_EQ(*info.get_str("compressedSchemeHex"), "6114458100");
  EXPECT_EQ(*info.get_str("error"), "none");
  const auto& scheme = info.entries.at("encodingScheme").items;
  ASSERT_EQ(scheme.size(), 3u);
  EXPECT_EQ(*scheme[0].get_int("bitCount"), 8);  // the last form first
  EXPECT_EQ(*scheme[2].get_str("prefix"), "01");
  // Through auth as well, as every function.
  Benc authed_info = decode(s.handle(authed("Core_nodeInfo", Benc::new_dict()), kCookieMs + 1000));
  EXPECT_EQ(*authed_info.get_str("myAddr"), *info.get_str("myAddr"));
}

}  // namespace
}  // namespace cjdroute_peer
