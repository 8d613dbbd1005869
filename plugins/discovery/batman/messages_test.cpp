// The parsers and request builders against messages in the kernel's format.
#include "batadv.hpp"
#include "messages.hpp"
#include "test_messages.hpp"

#include <gtest/gtest.h>

#include <linux/genetlink.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>

namespace mnigs::batman {
namespace {

using namespace batadv;
using testing::Genl;
using testing::header;

constexpr std::uint16_t family = 0x1c;  // whatever id the kernel gave batadv
const Mac orig_a{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a};
const Mac neigh_b{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b};

// An originator entry the way B.A.T.M.A.N. IV dumps it
// (batadv_iv_ogm_orig_dump_subentry), with the interface name newer
// kernels add.
Genl iv_originator(bool best) {
  Genl g(family, cmd_get_originators, 7);
  g.mac(attr_orig_address, orig_a)
      .mac(attr_neigh_address, neigh_b)
      .u32(attr_hard_ifindex, 4)
      .string(7 /* BATADV_ATTR_HARD_IFNAME */, "wlan0")
      .u8(attr_tq, 221)
      .u32(attr_last_seen_msecs, 730);
  if (best) g.flag(attr_flag_best);
  return g;
}

TEST(BatmanMessages, OriginatorWithTq) {
  auto bytes = iv_originator(true).bytes();
  std::string why;
  auto e = parse_originator(header(bytes), &why);
  ASSERT_TRUE(e) << why;
  EXPECT_EQ(e->orig, orig_a);
  EXPECT_EQ(e->neigh, neigh_b);
  EXPECT_EQ(e->hard_ifindex, 4u);
  EXPECT_EQ(e->last_seen_ms, 730u);
  ASSERT_TRUE(e->tq);
  EXPECT_EQ(*e->tq, 221);
  EXPECT_FALSE(e->throughput_kbps);
  EXPECT_TRUE(e->best);

  auto other = iv_originator(false).bytes();
  auto alt = parse_originator(header(other), &why);
  ASSERT_TRUE(alt) << why;
  EXPECT_FALSE(alt->best);
}

TEST(BatmanMessages, OriginatorWithThroughput) {
  // batadv_v_orig_dump_subentry: throughput in kbit/s.
  Genl g(family, cmd_get_originators, 7);
  g.mac(attr_orig_address, orig_a)
      .mac(attr_neigh_address, orig_a)
      .u32(attr_hard_ifindex, 4)
      .u32(attr_throughput, 54000)
      .u32(attr_last_seen_msecs, 120)
      .flag(attr_flag_best);
  auto bytes = g.bytes();
  std::string why;
  auto e = parse_originator(header(bytes), &why);
  ASSERT_TRUE(e) << why;
  EXPECT_FALSE(e->tq);
  ASSERT_TRUE(e->throughput_kbps);
  EXPECT_EQ(*e->throughput_kbps, 54000u);
  EXPECT_EQ(e->neigh, e->orig);
}

TEST(BatmanMessages, OriginatorBuiltByHandHasTheKernelLayout) {
  // nlmsghdr (16) + genlmsghdr (4) + attributes, each a 4-byte header and
  // its value padded to 4 bytes. Netlink's integers are in the host's byte
  // order, so they are appended as the host stores them.
  Bytes b;
  auto host = [&b](const auto& v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
  };
  // An attribute: length and type, then the value as given.
  auto attr = [&](std::uint16_t length, std::uint16_t type,
                  std::initializer_list<std::uint8_t> value) {
    host(length);
    host(type);
    b.insert(b.end(), value);
  };
  auto attr_u32 = [&](std::uint16_t type, std::uint32_t value) {
    host(std::uint16_t{8});
    host(type);
    host(value);
  };
  nlmsghdr h{};
  h.nlmsg_type = family;
  h.nlmsg_flags = NLM_F_MULTI;
  h.nlmsg_seq = 7;
  host(h);                                    // its length is set below
  b.insert(b.end(), {8, 1, 0, 0});            // cmd 8, version 1
  attr(10, 9, {2, 0, 0, 0, 0, 0x0a, 0, 0});   // ORIG_ADDRESS
  attr(10, 24, {2, 0, 0, 0, 0, 0x0b, 0, 0});  // NEIGH_ADDRESS
  attr_u32(6, 4);                             // HARD_IFINDEX 4
  attr(5, 25, {200, 0, 0, 0});                // TQ 200, and padding
  attr_u32(23, 1000);                         // LAST_SEEN_MSECS 1000
  attr(4, 22, {});                            // FLAG_BEST
  const auto length = static_cast<std::uint32_t>(b.size());
  std::memcpy(b.data(), &length, sizeof length);  // nlmsg_len
  std::string why;
  auto e = parse_originator(header(b), &why);
  ASSERT_TRUE(e) << why;
  EXPECT_EQ(e->orig, orig_a);
  EXPECT_EQ(e->neigh, neigh_b);
  EXPECT_EQ(e->hard_ifindex, 4u);
  EXPECT_EQ(*e->tq, 200);
  EXPECT_EQ(e->last_seen_ms, 1000u);
  EXPECT_TRUE(e->best);
}

TEST(BatmanMessages, OriginatorWithoutMandatoryAttributeIsRefused) {
  Genl g(family, cmd_get_originators, 7);
  g.mac(attr_orig_address, orig_a).u32(attr_hard_ifindex, 4).u8(attr_tq, 1).u32(
      attr_last_seen_msecs, 1);
  auto bytes = g.bytes();
  std::string why;
  EXPECT_FALSE(parse_originator(header(bytes), &why));
  EXPECT_NE(why.find("BATADV_ATTR_NEIGH_ADDRESS"), std::string::npos) << why;
}

TEST(BatmanMessages, OriginatorWithoutMetricIsRefused) {
  Genl g(family, cmd_get_originators, 7);
  g.mac(attr_orig_address, orig_a)
      .mac(attr_neigh_address, neigh_b)
      .u32(attr_hard_ifindex, 4)
      .u32(attr_last_seen_msecs, 1);
  auto bytes = g.bytes();
  std::string why;
  EXPECT_FALSE(parse_originator(header(bytes), &why));
  EXPECT_NE(why.find("TQ"), std::string::npos) << why;
}

TEST(BatmanMessages, ShortAddressIsRefused) {
  Genl g(family, cmd_get_originators, 7);
  g.raw(attr_orig_address, {2, 0, 0, 0})
      .mac(attr_neigh_address, neigh_b)
      .u32(attr_hard_ifindex, 4)
      .u8(attr_tq, 1)
      .u32(attr_last_seen_msecs, 1);
  auto bytes = g.bytes();
  std::string why;
  EXPECT_FALSE(parse_originator(header(bytes), &why));
  EXPECT_NE(why.find("BATADV_ATTR_ORIG_ADDRESS has 4 byte(s), needs 6"), std::string::npos) << why;
}

TEST(BatmanMessages, TruncatedAttributeIsRefused) {
  auto bytes = iv_originator(true).bytes();
  // Claim 3 more bytes than the message's attributes fill: the last
  // "attribute" is then 3 stray bytes.
  bytes.insert(bytes.end(), {0xff, 0xff, 0xff});
  auto* h = reinterpret_cast<nlmsghdr*>(bytes.data());
  h->nlmsg_len += 3;
  std::string why;
  EXPECT_FALSE(parse_originator(*h, &why));
  EXPECT_NE(why.find("after the last whole attribute"), std::string::npos) << why;

  // An attribute whose length runs past the end of the message.
  auto cut = iv_originator(true).bytes();
  cut.resize(cut.size() - 2);
  reinterpret_cast<nlmsghdr*>(cut.data())->nlmsg_len -= 2;
  EXPECT_FALSE(parse_originator(header(cut), &why));
}

TEST(BatmanMessages, MessageWithoutGenlHeaderIsRefused) {
  Bytes b(NLMSG_HDRLEN + 2, 0);
  auto* h = reinterpret_cast<nlmsghdr*>(b.data());
  h->nlmsg_len = static_cast<std::uint32_t>(b.size());
  h->nlmsg_type = family;
  std::string why;
  EXPECT_FALSE(parse_originator(*h, &why));
  EXPECT_NE(why.find("generic netlink header"), std::string::npos) << why;
  EXPECT_FALSE(parse_gateway(*h, &why));
  EXPECT_FALSE(parse_client(*h, &why));
  EXPECT_EQ(genl_command(*h), 0);
}

TEST(BatmanMessages, WrongCommandIsRefused) {
  Genl g(family, cmd_get_gateways, 7);
  g.mac(attr_orig_address, orig_a);
  auto bytes = g.bytes();
  std::string why;
  EXPECT_FALSE(parse_originator(header(bytes), &why));
  EXPECT_NE(why.find("command 10"), std::string::npos) << why;
}

TEST(BatmanMessages, UnknownAttributesAreIgnored) {
  auto g = iv_originator(true);
  g.u32(200, 5);  // an attribute of a future kernel
  auto bytes = g.bytes();
  std::string why;
  EXPECT_TRUE(parse_originator(header(bytes), &why)) << why;
}

TEST(BatmanMessages, GatewayWithBandwidth) {
  // batadv_iv_gw_dump_entry: TQ, router, interface name, bandwidth in 100 kbit/s.
  Genl g(family, cmd_get_gateways, 9);
  g.flag(attr_flag_best)
      .mac(attr_orig_address, orig_a)
      .u8(attr_tq, 240)
      .mac(attr_router, neigh_b)
      .string(7, "wlan0")
      .u32(attr_bandwidth_down, 100)
      .u32(attr_bandwidth_up, 25);
  auto bytes = g.bytes();
  std::string why;
  auto e = parse_gateway(header(bytes), &why);
  ASSERT_TRUE(e) << why;
  EXPECT_EQ(e->orig, orig_a);
  EXPECT_EQ(e->router, neigh_b);
  EXPECT_EQ(e->down, 100u);
  EXPECT_EQ(e->up, 25u);
  EXPECT_EQ(*e->tq, 240);
  EXPECT_TRUE(e->best);

  Genl v(family, cmd_get_gateways, 9);  // B.A.T.M.A.N. V: throughput, not selected
  v.mac(attr_orig_address, orig_a)
      .u32(attr_throughput, 300)
      .mac(attr_router, neigh_b)
      .u32(attr_bandwidth_down, 500)
      .u32(attr_bandwidth_up, 500);
  auto vb = v.bytes();
  auto ev = parse_gateway(header(vb), &why);
  ASSERT_TRUE(ev) << why;
  EXPECT_EQ(*ev->throughput, 300u);
  EXPECT_FALSE(ev->best);
}

TEST(BatmanMessages, GatewayWithoutBandwidthIsRefused) {
  Genl g(family, cmd_get_gateways, 9);
  g.mac(attr_orig_address, orig_a).mac(attr_router, neigh_b).u32(attr_bandwidth_up, 1);
  auto bytes = g.bytes();
  std::string why;
  EXPECT_FALSE(parse_gateway(header(bytes), &why));
  EXPECT_NE(why.find("BANDWIDTH_DOWN"), std::string::npos) << why;
}

TEST(BatmanMessages, TranslationTableEntry) {
  // batadv_tt_global_dump_subentry
  const Mac client{0x36, 0x11, 0x22, 0x33, 0x44, 0x55};
  Genl g(family, cmd_get_transtable_global, 3);
  g.mac(attr_tt_address, client)
      .u8(17, 5)   // TT_TTVN
      .u8(18, 5)   // TT_LAST_TTVN
      .u32(19, 0xdeadbeef)  // TT_CRC32
      .u16(attr_tt_vid, vlan_has_tag | 10)
      .u32(attr_tt_flags, tt_client_wifi)
      .mac(attr_orig_address, orig_a)
      .flag(attr_flag_best);
  auto bytes = g.bytes();
  std::string why;
  auto e = parse_client(header(bytes), &why);
  ASSERT_TRUE(e) << why;
  EXPECT_EQ(e->client, client);
  EXPECT_EQ(e->orig, orig_a);
  EXPECT_EQ(e->vid, vlan_has_tag | 10);
  EXPECT_EQ(e->flags, tt_client_wifi);
  EXPECT_TRUE(e->best);
}

TEST(BatmanMessages, FamilyId) {
  Genl g(GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, 1, 0);
  g.string(CTRL_ATTR_FAMILY_NAME, "batadv").u16(CTRL_ATTR_FAMILY_ID, 0x1c).u32(
      CTRL_ATTR_VERSION, 1);
  auto bytes = g.bytes();
  std::string why;
  auto id = parse_family_id(header(bytes), &why);
  ASSERT_TRUE(id) << why;
  EXPECT_EQ(*id, 0x1c);

  Genl bad(GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, 1, 0);
  bad.string(CTRL_ATTR_FAMILY_NAME, "batadv");
  auto bb = bad.bytes();
  EXPECT_FALSE(parse_family_id(header(bb), &why));
  EXPECT_NE(why.find("CTRL_ATTR_FAMILY_ID"), std::string::npos) << why;
}

// A neighbour entry as RTM_NEWNEIGH carries it.
Bytes neighbour(int family, std::initializer_list<std::uint8_t> dst, const Mac* lladdr,
                std::uint16_t state, int ifindex = 5) {
  std::unique_ptr<nl_msg, void (*)(nl_msg*)> m(nlmsg_alloc_simple(RTM_NEWNEIGH, NLM_F_MULTI),
                                               &nlmsg_free);
  ndmsg ndm{};
  ndm.ndm_family = static_cast<std::uint8_t>(family);
  ndm.ndm_ifindex = ifindex;
  ndm.ndm_state = state;
  nlmsg_append(m.get(), &ndm, sizeof ndm, NLMSG_ALIGNTO);
  Bytes d(dst);
  nla_put(m.get(), NDA_DST, static_cast<int>(d.size()), d.data());
  if (lladdr) nla_put(m.get(), NDA_LLADDR, 6, lladdr->data());
  const nlmsghdr* h = nlmsg_hdr(m.get());
  const auto* p = reinterpret_cast<const std::uint8_t*>(h);
  return Bytes(p, p + h->nlmsg_len);
}

TEST(BatmanMessages, Neighbours) {
  std::string why;
  auto v4 = neighbour(AF_INET, {10, 0, 0, 7}, &neigh_b, NUD_REACHABLE);
  auto e = parse_neighbour(header(v4), &why);
  ASSERT_TRUE(e) << why;
  EXPECT_EQ(e->address, "10.0.0.7");
  EXPECT_FALSE(e->link_local);
  EXPECT_EQ(e->lladdr, neigh_b);
  EXPECT_EQ(e->ifindex, 5);

  auto v6 = neighbour(AF_INET6, {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe, 0, 0, 0x0b},
                      &neigh_b, NUD_STALE);
  e = parse_neighbour(header(v6), &why);
  ASSERT_TRUE(e) << why;
  EXPECT_EQ(e->address, "fe80::ff:fe00:b");
  EXPECT_TRUE(e->link_local);

  // Resolution still running or failed: no usable link-layer address.
  why.clear();
  auto incomplete = neighbour(AF_INET, {10, 0, 0, 8}, nullptr, NUD_INCOMPLETE);
  EXPECT_FALSE(parse_neighbour(header(incomplete), &why));
  EXPECT_EQ(why, "");
  auto failed = neighbour(AF_INET, {10, 0, 0, 9}, &neigh_b, NUD_FAILED);
  EXPECT_FALSE(parse_neighbour(header(failed), &why));

  auto odd = neighbour(AF_INET, {10, 0, 0}, &neigh_b, NUD_REACHABLE);
  EXPECT_FALSE(parse_neighbour(header(odd), &why));
  EXPECT_NE(why.find("NDA_DST of 3 byte(s)"), std::string::npos) << why;
}

TEST(BatmanMessages, DumpRequestLayout) {
  auto req = batadv_dump_request(0x1c, cmd_get_originators, 42, 99);
  const auto& h = header(req);
  EXPECT_EQ(h.nlmsg_len, req.size());
  EXPECT_EQ(h.nlmsg_type, 0x1c);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(h.nlmsg_seq, 99u);
  ASSERT_EQ(req.size(), NLMSG_HDRLEN + GENL_HDRLEN + 8u);
  EXPECT_EQ(req[NLMSG_HDRLEN], cmd_get_originators);
  EXPECT_EQ(req[NLMSG_HDRLEN + 1], family_version);
  const std::uint8_t* attr = req.data() + NLMSG_HDRLEN + GENL_HDRLEN;
  std::uint16_t len, type;
  std::uint32_t value;
  std::memcpy(&len, attr, 2);
  std::memcpy(&type, attr + 2, 2);
  std::memcpy(&value, attr + 4, 4);
  EXPECT_EQ(len, 8);
  EXPECT_EQ(type, attr_mesh_ifindex);
  EXPECT_EQ(value, 42u);

  auto neigh = neighbour_dump_request(5);
  EXPECT_EQ(header(neigh).nlmsg_type, RTM_GETNEIGH);
  EXPECT_EQ(header(neigh).nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(header(neigh).nlmsg_seq, 5u);

  auto fam = family_request("batadv", 3);
  EXPECT_EQ(header(fam).nlmsg_type, GENL_ID_CTRL);
  EXPECT_EQ(header(fam).nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
  EXPECT_EQ(genl_command(header(fam)), CTRL_CMD_GETFAMILY);
}

}  // namespace
}  // namespace mnigs::batman
