// core/dht without the network: offers' wire form and checks, the table of
// offers a listener keeps, OpenDHT's log lines, bootstrap endpoints.
#include "dht/dht_node.hpp"
#include "dht/offer.hpp"
#include "dht/offer_table.hpp"
#include "dht/opendht_log.hpp"
#include "dht/test_support.hpp"

#include <gtest/gtest.h>

#include <cstdarg>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace mnigs {
namespace {

using namespace dht_test;

// ---------------------------------------------------------------- offers

TEST(Offer, RoundTripsThroughTheWireForm) {
  const auto offer = sample_offer(std::string(64, 'a'), "Gateway Ö");
  std::string why;
  const auto text = encode_offer(offer, &why);
  ASSERT_TRUE(text) << why;
  EXPECT_LE(text->size(), max_offer_bytes);
  const auto json = parse_json(*text);
  EXPECT_EQ(json["v"].asInt(), 1);
  EXPECT_EQ(json["rpcPort"].asInt(), 65533);
  EXPECT_FALSE(json.isMember("withdrawn"));  // only written when true
  const auto back = decode_offer(*text, &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, offer);

  auto withdrawn = offer;
  withdrawn.withdrawn = true;
  const auto back2 = decode_offer(*encode_offer(withdrawn));
  ASSERT_TRUE(back2);
  EXPECT_TRUE(back2->withdrawn);

  // A paid gateway's terms, optional on the wire.
  EXPECT_FALSE(json.isMember("paymentRequired"));
  auto paid = offer;
  paid.price_per_gb = 2.5;
  paid.voucher_only = true;
  paid.payment_required = true;
  const auto back3 = decode_offer(*encode_offer(paid));
  ASSERT_TRUE(back3);
  EXPECT_EQ(*back3, paid);
}

// What a subscriber pins a gateway's tunnel by: optional, absent when none.
TEST(Offer, CarriesTunnelKeys) {
  auto offer = sample_offer(std::string(64, 'a'));
  EXPECT_FALSE(parse_json(*encode_offer(offer)).isMember("keys"));  // none: not written
  offer.keys = {{"websocket", "sha256:" + std::string(64, 'f')},
                {"openvpn", "SHA256/AbC+x=.y_z-0"},
                {std::string(32, 'm'), std::string(128, 'k')}};
  std::string why;
  const auto text = encode_offer(offer, &why);
  ASSERT_TRUE(text) << why;
  EXPECT_EQ(parse_json(*text)["keys"]["websocket"], "sha256:" + std::string(64, 'f'));
  const auto back = decode_offer(*text, &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->keys, offer.keys);
  EXPECT_EQ(*back, offer);

  // An empty object is no keys.
  auto json = offer_to_json(sample_offer(std::string(64, 'a')));
  json["keys"] = Json::Value(Json::objectValue);
  const auto none = decode_offer(to_text(json), &why);
  ASSERT_TRUE(none) << why;
  EXPECT_TRUE(none->keys.empty());

  // Eight is the most, in an offer as in nodeInfo.
  std::map<std::string, std::string> eight;
  for (int i = 0; i < 8; ++i) eight["t" + std::to_string(i)] = "k";
  EXPECT_TRUE(tunnel_keys_from_json(tunnel_keys_to_json(eight), "tunnelKeys", &why)) << why;
  eight["t8"] = "k";
  EXPECT_FALSE(tunnel_keys_from_json(tunnel_keys_to_json(eight), "tunnelKeys", &why));
  EXPECT_EQ(why, "\"tunnelKeys\" has more than 8 entries");
  offer.keys = eight;
  EXPECT_EQ(validate_offer(offer), "more than 8 tunnel keys");
  EXPECT_FALSE(encode_offer(offer));
}

// Every way "keys" can be wrong is refused, and says so.
TEST(Offer, RefusesMalformedTunnelKeys) {
  const auto good = offer_to_json(sample_offer(std::string(64, 'c')));
  const std::string key = "sha256:" + std::string(64, '0');
  auto with = [&](const Json::Value& keys) {
    Json::Value j = good;
    j["keys"] = keys;
    return to_text(j);
  };
  auto object = [](std::vector<std::pair<std::string, Json::Value>> members) {
    Json::Value o(Json::objectValue);
    for (auto& [k, v] : members) o[k] = v;
    return o;
  };
  Json::Value nine(Json::objectValue);
  for (int i = 0; i < 9; ++i) nine["t" + std::to_string(i)] = key;
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"null", with(Json::Value()), "\"keys\" must be an object"},
      {"a list", with(Json::Value(Json::arrayValue)), "\"keys\" must be an object"},
      {"a string", with(key), "\"keys\" must be an object"},
      {"nine", with(nine), "\"keys\" has more than 8 entries"},
      {"a number", with(object({{"websocket", 5}})), "\"keys\" must hold strings"},
      {"an object", with(object({{"websocket", object({{"a", key}})}})),
       "\"keys\" must hold strings"},
      {"empty key", with(object({{"websocket", ""}})), "the key for \"websocket\" is not"},
      {"long key", with(object({{"websocket", std::string(129, 'k')}})),
       "the key for \"websocket\" is not 1 to 128"},
      {"key with space", with(object({{"websocket", "sha256: ab"}})), "the key for"},
      {"key with quote", with(object({{"websocket", "a\"b"}})), "the key for"},
      {"key with newline", with(object({{"websocket", "a\nb"}})), "the key for"},
      {"key with percent", with(object({{"websocket", "a%20"}})), "the key for"},
      {"key not ASCII", with(object({{"websocket", "sch\xc3\xbcssel"}})), "the key for"},
      {"empty method", with(object({{"", key}})), "a tunnel method is not a name"},
      {"long method", with(object({{std::string(33, 'm'), key}})), "a tunnel method"},
      {"method with slash", with(object({{"web/socket", key}})), "a tunnel method"},
      {"method with colon", with(object({{"web:socket", key}})), "a tunnel method"},
      {"method with NUL", with(object({{std::string("web\0x", 5), key}})), "a tunnel method"},
      {"duplicate method",
       [&] {
         std::string t = with(object({{"websocket", key}}));
         const std::string member = "\"websocket\":\"" + key + "\"";
         return t.insert(t.find(member), member + ",");
       }(),
       "not strict JSON"},
  };
  for (const auto& [name, text, expected] : cases) {
    std::string why;
    EXPECT_FALSE(decode_offer(text, &why)) << name;
    EXPECT_NE(why.find(expected), std::string::npos) << name << ": " << why;
    if (expected != "not strict JSON") {
      EXPECT_EQ(why.rfind("malformed offer: \"keys\"", 0), 0u) << name << ": " << why;
    }
  }
  // The same rules for an offer this node would sign.
  auto offer = sample_offer(std::string(64, 'c'));
  offer.keys = {{"websocket", "a b"}};
  EXPECT_NE(validate_offer(offer).find("the key for \"websocket\""), std::string::npos);
  offer.keys = {{"web socket", key}};
  EXPECT_NE(validate_offer(offer).find("a tunnel method"), std::string::npos);
  std::string why;
  EXPECT_FALSE(encode_offer(offer, &why));
  EXPECT_EQ(why.rfind("invalid offer: a tunnel method", 0), 0u) << why;
}

// The services a gateway offers beside its suites (an HTTP tunnel's front):
// optional, absent when none, and as strict as the keys.
TEST(Offer, CarriesServices) {
  auto offer = sample_offer(std::string(64, 'a'));
  EXPECT_FALSE(parse_json(*encode_offer(offer)).isMember("services"));  // none: not written
  offer.services = {{"httptunnel", "http://gw.example:8080/"},
                    {std::string(32, 's'), std::string(96, 'u')}};
  std::string why;
  const auto text = encode_offer(offer, &why);
  ASSERT_TRUE(text) << why;
  EXPECT_EQ(parse_json(*text)["services"]["httptunnel"], "http://gw.example:8080/");
  const auto back = decode_offer(*text, &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->services, offer.services);

  const auto good = offer_to_json(sample_offer(std::string(64, 'c')));
  auto with = [&](const Json::Value& services) {
    Json::Value j = good;
    j["services"] = services;
    return to_text(j);
  };
  auto one = [](const std::string& name, const Json::Value& v) {
    Json::Value o(Json::objectValue);
    o[name] = v;
    return o;
  };
  Json::Value five(Json::objectValue);
  for (int i = 0; i < 5; ++i) five["s" + std::to_string(i)] = "http://x/";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"a list", with(Json::Value(Json::arrayValue)), "\"services\" must be an object"},
      {"five", with(five), "\"services\" has more than 4 entries"},
      {"a number", with(one("httptunnel", 8080)), "\"services\" must hold strings"},
      {"empty", with(one("httptunnel", "")), "where \"httptunnel\" is reached is not"},
      {"long", with(one("httptunnel", std::string(97, 'u'))), "is not 1 to 96"},
      {"space", with(one("httptunnel", "http://a b/")), "is reached is not"},
      {"newline", with(one("httptunnel", "http://a\nb/")), "is reached is not"},
      {"not ASCII", with(one("httptunnel", "http://\xc3\xbc/")), "is reached is not"},
      {"bad name", with(one("http tunnel", "http://x/")), "a service is not named"},
      {"long name", with(one(std::string(33, 'n'), "http://x/")), "a service is not named"},
  };
  for (const auto& [name, text, expected] : cases) {
    EXPECT_FALSE(decode_offer(text, &why)) << name;
    EXPECT_NE(why.find(expected), std::string::npos) << name << ": " << why;
    EXPECT_EQ(why.rfind("malformed offer: \"services\"", 0), 0u) << name << ": " << why;
  }
  // The same rules for an offer this node would sign.
  offer.services = {{"httptunnel", "http://a b/"}};
  EXPECT_FALSE(encode_offer(offer, &why));
  EXPECT_NE(why.find("where \"httptunnel\" is reached"), std::string::npos) << why;
}

// Eight keys and four services of the longest kind fit beside what a large
// real gateway offers: its 16 IPv6 addresses, 32 suites and a name of 128 bytes.
TEST(Offer, EightLongKeysFitBesideALargeRealOffer) {
  auto big = sample_offer(std::string(64, 'e'), std::string(128, 'n'));
  big.addresses.clear();
  for (int i = 0; i < 16; ++i)
    big.addresses.push_back("fd00:1234:5678:9abc:def0:1234:5678:" + std::to_string(1000 + i));
  big.suites.clear();
  for (const char* network : {"babel", "cjdns", "olsr", "batman", "l2", "static", "yggdrasil",
                              "bmx7"})
    for (const char* tunnel : {"websocket", "openvpn", "forwarding", "wireguard"})
      big.suites.push_back(std::string(network) + "-" + tunnel + "-webpage");
  ASSERT_EQ(big.suites.size(), 32u);
  big.price_per_gb = 123456.789;
  big.voucher_only = true;
  big.payment_required = true;
  big.currency = std::string(16, 'c');
  big.max_connections = 1'000'000;
  big.sessions = 1'000'000;
  for (int i = 0; i < 8; ++i)
    big.keys[std::string(31, 'm') + std::to_string(i)] = std::string(128, 'k');
  // And four services of the longest kind.
  for (int i = 0; i < 4; ++i)
    big.services[std::string(31, 's') + std::to_string(i)] = std::string(96, 'u');
  std::string why;
  const auto text = encode_offer(big, &why);
  ASSERT_TRUE(text) << why;
  EXPECT_LT(text->size(), max_offer_bytes);
  const auto back = decode_offer(*text, &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, big);
}

TEST(Offer, IgnoresUnknownMembers) {
  auto json = offer_to_json(sample_offer(std::string(64, 'b')));
  json["futureField"] = "x";
  EXPECT_TRUE(decode_offer(to_text(json)));
}

// Each mutation of a valid offer must be refused, with a reason.
TEST(Offer, RefusesEveryMalformedField) {
  const auto good = offer_to_json(sample_offer(std::string(64, 'c')));
  const std::vector<std::pair<std::string, std::function<void(Json::Value&)>>> cases = {
      {"no version", [](Json::Value& j) { j.removeMember("v"); }},
      {"price per GB text", [](Json::Value& j) { j["pricePerGB"] = "2"; }},
      {"price per GB negative", [](Json::Value& j) { j["pricePerGB"] = -1; }},
      {"payment required text", [](Json::Value& j) { j["paymentRequired"] = "yes"; }},
      {"voucher only number", [](Json::Value& j) { j["voucherOnly"] = 1; }},
      {"version 2", [](Json::Value& j) { j["v"] = 2; }},
      {"no id", [](Json::Value& j) { j.removeMember("id"); }},
      {"short id", [](Json::Value& j) { j["id"] = std::string(63, 'c'); }},
      {"uppercase id", [](Json::Value& j) { j["id"] = std::string(64, 'C'); }},
      {"id not a string", [](Json::Value& j) { j["id"] = 5; }},
      {"name not a string", [](Json::Value& j) { j["name"] = Json::Value(Json::arrayValue); }},
      {"name too long", [](Json::Value& j) { j["name"] = std::string(129, 'n'); }},
      {"name with control", [](Json::Value& j) { j["name"] = "a\nb"; }},
      {"addresses not a list", [](Json::Value& j) { j["addresses"] = "10.0.0.1"; }},
      {"no addresses", [](Json::Value& j) { j["addresses"] = Json::Value(Json::arrayValue); }},
      {"address not a string", [](Json::Value& j) { j["addresses"][0] = 10; }},
      {"address a name", [](Json::Value& j) { j["addresses"][0] = "gw.example"; }},
      {"address with zone", [](Json::Value& j) { j["addresses"][0] = "fe80::1%eth0"; }},
      {"address link-local", [](Json::Value& j) { j["addresses"][0] = "fe80::1"; }},
      {"address loopback", [](Json::Value& j) { j["addresses"][0] = "127.0.0.1"; }},
      {"address unspecified", [](Json::Value& j) { j["addresses"][0] = "::"; }},
      {"address multicast", [](Json::Value& j) { j["addresses"][0] = "224.0.0.1"; }},
      {"address with port", [](Json::Value& j) { j["addresses"][0] = "10.0.0.1:80"; }},
      {"duplicate address", [](Json::Value& j) { j["addresses"][1] = j["addresses"][0]; }},
      {"17 addresses",
       [](Json::Value& j) {
         j["addresses"] = Json::Value(Json::arrayValue);
         for (int i = 0; i < 17; ++i) j["addresses"].append("10.0.0." + std::to_string(i + 1));
       }},
      {"port as string", [](Json::Value& j) { j["rpcPort"] = "65533"; }},
      {"port fractional", [](Json::Value& j) { j["rpcPort"] = 65533.5; }},
      {"port as float", [](Json::Value& j) { j["rpcPort"] = 80.0; }},
      {"port 0", [](Json::Value& j) { j["rpcPort"] = 0; }},
      {"port 65536", [](Json::Value& j) { j["rpcPort"] = 65536; }},
      {"no suites", [](Json::Value& j) { j["suites"] = Json::Value(Json::arrayValue); }},
      {"suite not a string", [](Json::Value& j) { j["suites"][0] = true; }},
      {"suite with space", [](Json::Value& j) { j["suites"][0] = "a b"; }},
      {"suite too long", [](Json::Value& j) { j["suites"][0] = std::string(129, 's'); }},
      {"33 suites",
       [](Json::Value& j) {
         j["suites"] = Json::Value(Json::arrayValue);
         for (int i = 0; i < 33; ++i) j["suites"].append("s" + std::to_string(i));
       }},
      {"price as string", [](Json::Value& j) { j["price"] = "0"; }},
      {"price negative", [](Json::Value& j) { j["price"] = -1; }},
      {"price huge", [](Json::Value& j) { j["price"] = 1e300; }},
      {"currency too long", [](Json::Value& j) { j["currency"] = std::string(17, 'c'); }},
      {"currency with slash", [](Json::Value& j) { j["currency"] = "EUR/h"; }},
      {"maxConnections 0", [](Json::Value& j) { j["maxConnections"] = 0; }},
      {"maxConnections negative", [](Json::Value& j) { j["maxConnections"] = -5; }},
      {"sessions too many", [](Json::Value& j) { j["sessions"] = 1'000'001; }},
      {"ipv6 as number", [](Json::Value& j) { j["ipv6"] = 1; }},
      {"no expires", [](Json::Value& j) { j.removeMember("expires"); }},
      {"expires negative", [](Json::Value& j) { j["expires"] = -1; }},
      {"expires as string", [](Json::Value& j) { j["expires"] = "tomorrow"; }},
      {"withdrawn as string", [](Json::Value& j) { j["withdrawn"] = "yes"; }},
  };
  for (const auto& [name, mutate] : cases) {
    Json::Value bad = good;
    mutate(bad);
    std::string why;
    EXPECT_FALSE(decode_offer(to_text(bad), &why)) << name;
    EXPECT_FALSE(why.empty()) << name;
  }
  // Raw bytes that are not UTF-8 (the writer above would escape them).
  for (const std::string& raw : {std::string("a\xc3("), std::string("\xc0\xaf"),
                                 std::string("\xed\xa0\x80"), std::string("\xff")}) {
    Json::Value named = good;
    named["name"] = "@NAME@";
    std::string text = to_text(named);
    text.replace(text.find("@NAME@"), 6, raw);
    EXPECT_FALSE(decode_offer(text)) << "name bytes " << Json::Value(raw).toStyledString();
  }
}

TEST(Offer, RefusesTextThatIsNotOneStrictJsonObject) {
  const std::string good = *encode_offer(sample_offer(std::string(64, 'd')));
  for (const std::string& text :
       {std::string(""), std::string("not json"), good + "x", good + good, std::string("[]"),
        std::string("{\"v\":1,\"v\":1}"), "[" + good + "]", std::string("{\"v\":1,}")}) {
    std::string why;
    EXPECT_FALSE(decode_offer(text, &why)) << text;
    EXPECT_FALSE(why.empty());
  }
  // A duplicate key inside a valid offer: ambiguous, refused.
  std::string duplicated = good;
  duplicated.insert(1, "\"name\":\"evil\",");
  EXPECT_FALSE(decode_offer(duplicated));
}

// jsoncpp throws past its stack limit; a value from the DHT arrives on
// OpenDHT's thread, where a throw would lose the whole batch it came in.
TEST(Offer, RefusesDeeplyNestedTextWithoutThrowing) {
  for (const std::string& text :
       {std::string(64, '[') + std::string(64, ']'), "{\"v\":" + std::string(20, '[') +
                                                        std::string(20, ']') + "}"}) {
    std::string why;
    std::optional<GatewayOffer> offer;
    EXPECT_NO_THROW(offer = decode_offer(text, &why)) << text;
    EXPECT_FALSE(offer);
    EXPECT_FALSE(why.empty());
  }
}

TEST(Offer, RefusesOversizeTextAndOffers) {
  std::string why;
  EXPECT_FALSE(decode_offer(std::string(max_offer_bytes + 1, ' '), &why));
  EXPECT_NE(why.find("more than 4096"), std::string::npos) << why;

  // Every field within its limit, but all of them at once is too much.
  auto big = sample_offer(std::string(64, 'e'), std::string(128, 'n'));
  big.addresses.clear();
  for (int i = 0; i < 16; ++i)
    big.addresses.push_back("fd00:1234:5678:9abc:def0:1234:5678:" + std::to_string(1000 + i));
  big.suites.clear();
  for (int i = 0; i < 32; ++i)
    big.suites.push_back(std::string(120, 's') + std::to_string(100 + i));
  EXPECT_EQ(validate_offer(big), "");
  EXPECT_FALSE(encode_offer(big, &why));
  EXPECT_NE(why.find("more than 4096"), std::string::npos) << why;
}

TEST(Offer, TimeChecks) {
  auto offer = sample_offer(std::string(64, 'f'));
  offer.expires = 1000;
  EXPECT_EQ(check_offer_time(offer, 999, 3600), "");
  EXPECT_NE(check_offer_time(offer, 1000, 3600), "");  // expires is exclusive
  EXPECT_NE(check_offer_time(offer, 2000, 3600), "");
  EXPECT_NE(check_offer_time(offer, 1000 - 3601, 3600), "");  // claims too long a life
}

// ---------------------------------------------------------------- endpoints

// ---------------------------------------------------------------- the offer table

HeardOffer heard_offer(HeardOffer::Kind kind, const std::string& id, std::int64_t expires,
                       std::uint64_t value_id, std::uint16_t seq) {
  HeardOffer h;
  h.kind = kind;
  h.offer = sample_offer(id);
  h.offer.expires = expires;
  h.offer.withdrawn = kind == HeardOffer::Kind::withdrawal;
  h.node_id = id;
  h.value_id = value_id;
  h.seq = seq;
  return h;
}

TEST(OfferTable, KeepsTheNewestStatementOfEachNode) {
  using K = HeardOffer::Kind;
  const std::string a(64, 'a'), b(64, 'b');
  OfferTable table;
  auto c = table.apply({heard_offer(K::offer, a, 1000, 1, 0), heard_offer(K::offer, b, 1000, 2, 0)});
  EXPECT_EQ(c.changed.size(), 2u);
  EXPECT_EQ(table.size(), 2u);
  // The same copy again, and an older one: nothing changes.
  c = table.apply({heard_offer(K::offer, a, 1000, 1, 0), heard_offer(K::offer, a, 900, 3, 5)});
  EXPECT_TRUE(c.changed.empty());
  // Signed later; and within the same second, the higher sequence number.
  c = table.apply({heard_offer(K::offer, a, 1300, 4, 1)});
  ASSERT_EQ(c.changed.size(), 1u);
  EXPECT_EQ(c.changed[0].expires, 1300);
  c = table.apply({heard_offer(K::offer, a, 1300, 5, 2)});
  EXPECT_EQ(c.changed.size(), 1u);
  c = table.apply({heard_offer(K::offer, a, 1300, 6, 1)});
  EXPECT_TRUE(c.changed.empty());
}

TEST(OfferTable, AWithdrawalOutlivesTheCopiesOfTheOffer) {
  using K = HeardOffer::Kind;
  const std::string a(64, 'a');
  OfferTable table;
  table.apply({heard_offer(K::offer, a, 1000, 1, 0)});
  auto c = table.apply({heard_offer(K::withdrawal, a, 1000, 2, 1)});
  ASSERT_EQ(c.gone.size(), 1u);
  EXPECT_EQ(table.size(), 0u);
  // A copy of the offer still stored somewhere comes in late: refused.
  c = table.apply({heard_offer(K::offer, a, 1000, 1, 0)});
  EXPECT_TRUE(c.changed.empty());
  EXPECT_EQ(table.size(), 0u);
  // A restart forgets the offers, not the withdrawals.
  table.clear_offers();
  EXPECT_TRUE(table.apply({heard_offer(K::offer, a, 1000, 1, 0)}).changed.empty());
  // Offered again later: believed.
  EXPECT_EQ(table.apply({heard_offer(K::offer, a, 1600, 3, 2)}).changed.size(), 1u);
}

TEST(OfferTable, GoneRemovesOnlyTheValueItNames) {
  using K = HeardOffer::Kind;
  const std::string a(64, 'a');
  OfferTable table;
  table.apply({heard_offer(K::offer, a, 1000, 7, 3)});
  EXPECT_TRUE(table.apply({heard_offer(K::gone, a, 0, 6, 9)}).gone.empty());  // another value
  EXPECT_TRUE(table.apply({heard_offer(K::gone, a, 0, 7, 2)}).gone.empty());  // older seq
  EXPECT_EQ(table.apply({heard_offer(K::gone, a, 0, 7, 3)}).gone.size(), 1u);
  EXPECT_EQ(table.size(), 0u);
}

TEST(OfferTable, ExpiresAtTheirTimeAndSaysWhenTheNextIsDue) {
  using K = HeardOffer::Kind;
  OfferTable table;
  table.apply({heard_offer(K::offer, std::string(64, 'a'), 1000, 1, 0),
               heard_offer(K::offer, std::string(64, 'b'), 2000, 2, 0)});
  std::optional<std::int64_t> next;
  EXPECT_TRUE(table.expire(999, &next).empty());
  EXPECT_EQ(next, 1000);
  EXPECT_EQ(table.expire(1000, &next).size(), 1u);
  EXPECT_EQ(next, 2000);
  EXPECT_EQ(table.expire(5000, &next).size(), 1u);
  EXPECT_FALSE(next);
}

TEST(OfferTable, NodesBeyondTheCapAreRefusedAndCounted) {
  using K = HeardOffer::Kind;
  OfferTable table(2);
  std::vector<HeardOffer> heard;
  for (char c : std::string("abcd")) heard.push_back(heard_offer(K::offer, std::string(64, c),
                                                                 1000, 1, 0));
  const auto changes = table.apply(heard);
  EXPECT_EQ(changes.changed.size(), 2u);
  EXPECT_EQ(changes.refused_full, 2u);
  EXPECT_EQ(table.size(), 2u);
  // A node already known still updates.
  EXPECT_EQ(table.apply({heard_offer(K::offer, std::string(64, 'a'), 1200, 2, 1)}).changed.size(),
            1u);
}

// The texts OpenDHT 2.4 (and older) logs for the two refusals it reports
// only in its log, as printf formats in its securedht.cpp and dht.cpp.
TEST(OpenDhtLog, ClassifiesTheRefusalsByTheirFormat) {
  EXPECT_EQ(classify_opendht_log("Signature verification failed for %s"),
            OpenDhtLogEvent::bad_signature);
  EXPECT_EQ(classify_opendht_log("Edition forbidden: signature verification failed"),
            OpenDhtLogEvent::bad_signature);
  EXPECT_EQ(classify_opendht_log("Edition forbidden: not signed or wrong owner."),
            OpenDhtLogEvent::forged);
  EXPECT_EQ(classify_opendht_log("Edition forbidden: owner changed."), OpenDhtLogEvent::forged);
  EXPECT_EQ(classify_opendht_log("[node %s] %s: Signature verification failed"),
            OpenDhtLogEvent::other);
  EXPECT_EQ(classify_opendht_log(nullptr), OpenDhtLogEvent::other);
}

std::string format_line(const char* format, ...) {
  va_list args;
  va_start(args, format);
  auto out = format_opendht_log(format, args);
  va_end(args);
  return out;
}

TEST(OpenDhtLog, FormatsLinesOfAnyLengthWithoutTrailingNewlines) {
  EXPECT_EQ(format_line("node %s port %d\n\r\n", "ab", 7), "node ab port 7");
  const std::string long_arg(2000, 'x');
  EXPECT_EQ(format_line("[%s]\n", long_arg.c_str()), "[" + long_arg + "]");
}

TEST(Endpoint, ParsesHostsPortsAndIpv6) {
  using P = std::pair<std::string, std::uint16_t>;
  EXPECT_EQ(parse_dht_endpoint("10.0.0.1", 4222), P("10.0.0.1", 4222));
  EXPECT_EQ(parse_dht_endpoint("10.0.0.1:5000", 4222), P("10.0.0.1", 5000));
  EXPECT_EQ(parse_dht_endpoint("node.mesh:1", 4222), P("node.mesh", 1));
  EXPECT_EQ(parse_dht_endpoint("[fd00::1]:5000", 4222), P("fd00::1", 5000));
  EXPECT_EQ(parse_dht_endpoint("[fd00::1]", 4222), P("fd00::1", 4222));
  EXPECT_EQ(parse_dht_endpoint("fd00::1", 4222), P("fd00::1", 4222));
  for (const char* bad : {"", ":5000", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536",
                          "10.0.0.1:x", "[fd00::1", "[fd00::1]5000", "[nope]:1", "a b:1",
                          "fd00::1::2"}) {
    std::string why;
    EXPECT_FALSE(parse_dht_endpoint(bad, 4222, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

}  // namespace
}  // namespace mnigs
