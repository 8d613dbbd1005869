#include "messages.hpp"

#include "batadv.hpp"

#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <linux/genetlink.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <cstring>
#include <memory>
#include <new>

namespace mnigs::batman {

namespace {

struct MsgFree {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
using Msg = std::unique_ptr<nl_msg, MsgFree>;

Msg alloc() {
  Msg m(nlmsg_alloc());
  if (!m) throw std::bad_alloc();
  return m;
}

Bytes bytes_of(nl_msg* m) {
  const nlmsghdr* h = nlmsg_hdr(m);
  const auto* p = reinterpret_cast<const std::uint8_t*>(h);
  return Bytes(p, p + h->nlmsg_len);
}

// Splits the attributes at `head` into tb[0..max]. Besides what nla_parse
// checks, bytes left after the last whole attribute mean the message was cut
// or is not what it claims, and it is refused.
bool split(nlattr* head, int len, int max, nlattr** tb, std::string* why) {
  const nlattr* pos;
  int rem;
  nla_for_each_attr(pos, head, len, rem) {}
  if (rem > 0) {
    if (why) *why = std::to_string(rem) + " byte(s) after the last whole attribute";
    return false;
  }
  if (int err = nla_parse(tb, max, head, len, nullptr); err < 0) {
    if (why) *why = std::string("attributes do not parse: ") + nl_geterror(err);
    return false;
  }
  return true;
}

// The attributes of a generic netlink message.
bool split_genl(const nlmsghdr& msg, int max, nlattr** tb, std::string* why) {
  auto* h = const_cast<nlmsghdr*>(&msg);  // libnl takes non-const pointers; it only reads
  if (!genlmsg_valid_hdr(h, 0)) {
    if (why) *why = "message shorter than its generic netlink header";
    return false;
  }
  auto* g = static_cast<genlmsghdr*>(nlmsg_data(h));
  return split(genlmsg_attrdata(g, 0), genlmsg_attrlen(g, 0), max, tb, why);
}

// Reads typed attributes, remembering the first problem.
class Fields {
 public:
  Fields(nlattr** tb, std::string* why) : tb_(tb), why_(why) {}
  bool ok() const { return ok_; }

  std::optional<Mac> mac(int type, const char* name, bool required = true) {
    const nlattr* a = present(type, name, required, 6);
    if (!a) return std::nullopt;
    Mac m;
    std::memcpy(m.data(), nla_data(a), m.size());
    return m;
  }
  template <class T>
  std::optional<T> uint(int type, const char* name, bool required = true) {
    const nlattr* a = present(type, name, required, sizeof(T));
    if (!a) return std::nullopt;
    T v;
    std::memcpy(&v, nla_data(a), sizeof v);  // netlink integers are in host order
    return v;
  }
  bool flag(int type) const { return tb_[type] != nullptr; }
  void fail(std::string what) {
    if (ok_ && why_) *why_ = std::move(what);
    ok_ = false;
  }

 private:
  const nlattr* present(int type, const char* name, bool required, std::size_t size) {
    const nlattr* a = tb_[type];
    if (!a) {
      if (required) fail(std::string("no ") + name);
      return nullptr;
    }
    if (nla_len(a) < static_cast<int>(size)) {
      fail(std::string(name) + " has " + std::to_string(nla_len(a)) + " byte(s), needs " +
           std::to_string(size));
      return nullptr;
    }
    return a;
  }

  nlattr** tb_;
  std::string* why_;
  bool ok_ = true;
};

bool expect_command(const nlmsghdr& msg, std::uint8_t cmd, const char* name, std::string* why) {
  if (genl_command(msg) == cmd) return true;
  if (why) *why = "command " + std::to_string(genl_command(msg)) + " where " + name + " was asked";
  return false;
}

}  // namespace

std::uint8_t genl_command(const nlmsghdr& msg) {
  auto* h = const_cast<nlmsghdr*>(&msg);
  if (!genlmsg_valid_hdr(h, 0)) return 0;
  return static_cast<const genlmsghdr*>(nlmsg_data(h))->cmd;
}

Bytes family_request(const std::string& name, std::uint32_t seq) {
  Msg m = alloc();
  if (!genlmsg_put(m.get(), 0, seq, GENL_ID_CTRL, 0, NLM_F_REQUEST | NLM_F_ACK,
                   CTRL_CMD_GETFAMILY, 1) ||
      nla_put_string(m.get(), CTRL_ATTR_FAMILY_NAME, name.c_str()) < 0)
    throw std::bad_alloc();
  return bytes_of(m.get());
}

Bytes batadv_dump_request(std::uint16_t family, std::uint8_t cmd, std::uint32_t mesh_ifindex,
                          std::uint32_t seq) {
  Msg m = alloc();
  if (!genlmsg_put(m.get(), 0, seq, family, 0, NLM_F_REQUEST | NLM_F_DUMP, cmd,
                   batadv::family_version) ||
      nla_put_u32(m.get(), batadv::attr_mesh_ifindex, mesh_ifindex) < 0)
    throw std::bad_alloc();
  return bytes_of(m.get());
}

Bytes neighbour_dump_request(std::uint32_t seq) {
  Msg m(nlmsg_alloc_simple(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_DUMP));
  if (!m) throw std::bad_alloc();
  ndmsg ndm{};
  ndm.ndm_family = AF_UNSPEC;  // IPv4 and IPv6 in one dump
  if (nlmsg_append(m.get(), &ndm, sizeof ndm, NLMSG_ALIGNTO) < 0) throw std::bad_alloc();
  nlmsg_hdr(m.get())->nlmsg_seq = seq;
  return bytes_of(m.get());
}

std::optional<std::uint16_t> parse_family_id(const nlmsghdr& msg, std::string* why) {
  nlattr* tb[CTRL_ATTR_FAMILY_ID + 1] = {};
  if (msg.nlmsg_type != GENL_ID_CTRL) {
    if (why) *why = "not a generic netlink controller message";
    return std::nullopt;
  }
  if (!split_genl(msg, CTRL_ATTR_FAMILY_ID, tb, why)) return std::nullopt;
  if (!expect_command(msg, CTRL_CMD_NEWFAMILY, "CTRL_CMD_NEWFAMILY", why)) return std::nullopt;
  Fields f(tb, why);
  auto id = f.uint<std::uint16_t>(CTRL_ATTR_FAMILY_ID, "CTRL_ATTR_FAMILY_ID");
  if (!f.ok()) return std::nullopt;
  return id;
}

std::optional<OriginatorEntry> parse_originator(const nlmsghdr& msg, std::string* why) {
  using namespace batadv;
  nlattr* tb[attr_max_used + 1] = {};
  if (!split_genl(msg, attr_max_used, tb, why)) return std::nullopt;
  if (!expect_command(msg, cmd_get_originators, "BATADV_CMD_GET_ORIGINATORS", why))
    return std::nullopt;
  Fields f(tb, why);
  OriginatorEntry e;
  auto orig = f.mac(attr_orig_address, "BATADV_ATTR_ORIG_ADDRESS");
  auto neigh = f.mac(attr_neigh_address, "BATADV_ATTR_NEIGH_ADDRESS");
  auto ifindex = f.uint<std::uint32_t>(attr_hard_ifindex, "BATADV_ATTR_HARD_IFINDEX");
  auto seen = f.uint<std::uint32_t>(attr_last_seen_msecs, "BATADV_ATTR_LAST_SEEN_MSECS");
  e.tq = f.uint<std::uint8_t>(attr_tq, "BATADV_ATTR_TQ", false);
  e.throughput_kbps = f.uint<std::uint32_t>(attr_throughput, "BATADV_ATTR_THROUGHPUT", false);
  if (f.ok() && !e.tq && !e.throughput_kbps)
    f.fail("neither BATADV_ATTR_TQ nor BATADV_ATTR_THROUGHPUT");
  if (!f.ok()) return std::nullopt;
  e.orig = *orig;
  e.neigh = *neigh;
  e.hard_ifindex = *ifindex;
  e.last_seen_ms = *seen;
  e.best = f.flag(attr_flag_best);
  return e;
}

std::optional<GatewayEntry> parse_gateway(const nlmsghdr& msg, std::string* why) {
  using namespace batadv;
  nlattr* tb[attr_max_used + 1] = {};
  if (!split_genl(msg, attr_max_used, tb, why)) return std::nullopt;
  if (!expect_command(msg, cmd_get_gateways, "BATADV_CMD_GET_GATEWAYS", why)) return std::nullopt;
  Fields f(tb, why);
  GatewayEntry e;
  auto orig = f.mac(attr_orig_address, "BATADV_ATTR_ORIG_ADDRESS");
  auto router = f.mac(attr_router, "BATADV_ATTR_ROUTER");
  auto down = f.uint<std::uint32_t>(attr_bandwidth_down, "BATADV_ATTR_BANDWIDTH_DOWN");
  auto up = f.uint<std::uint32_t>(attr_bandwidth_up, "BATADV_ATTR_BANDWIDTH_UP");
  e.tq = f.uint<std::uint8_t>(attr_tq, "BATADV_ATTR_TQ", false);
  e.throughput = f.uint<std::uint32_t>(attr_throughput, "BATADV_ATTR_THROUGHPUT", false);
  if (!f.ok()) return std::nullopt;
  e.orig = *orig;
  e.router = *router;
  e.down = *down;
  e.up = *up;
  e.best = f.flag(attr_flag_best);
  return e;
}

std::optional<ClientEntry> parse_client(const nlmsghdr& msg, std::string* why) {
  using namespace batadv;
  nlattr* tb[attr_max_used + 1] = {};
  if (!split_genl(msg, attr_max_used, tb, why)) return std::nullopt;
  if (!expect_command(msg, cmd_get_transtable_global, "BATADV_CMD_GET_TRANSTABLE_GLOBAL", why))
    return std::nullopt;
  Fields f(tb, why);
  ClientEntry e;
  auto client = f.mac(attr_tt_address, "BATADV_ATTR_TT_ADDRESS");
  auto orig = f.mac(attr_orig_address, "BATADV_ATTR_ORIG_ADDRESS");
  auto vid = f.uint<std::uint16_t>(attr_tt_vid, "BATADV_ATTR_TT_VID", false);
  auto flags = f.uint<std::uint32_t>(attr_tt_flags, "BATADV_ATTR_TT_FLAGS", false);
  if (!f.ok()) return std::nullopt;
  e.client = *client;
  e.orig = *orig;
  e.vid = vid.value_or(0);
  e.flags = flags.value_or(0);
  e.best = f.flag(attr_flag_best);
  return e;
}

std::optional<NeighbourEntry> parse_neighbour(const nlmsghdr& msg, std::string* why) {
  auto* h = const_cast<nlmsghdr*>(&msg);
  if (msg.nlmsg_type != RTM_NEWNEIGH || !nlmsg_valid_hdr(h, sizeof(ndmsg))) {
    if (why) *why = "not a whole RTM_NEWNEIGH message";
    return std::nullopt;
  }
  const auto* ndm = static_cast<const ndmsg*>(nlmsg_data(h));
  nlattr* tb[NDA_LLADDR + 1] = {};
  if (!split(nlmsg_attrdata(h, sizeof(ndmsg)), nlmsg_attrlen(h, sizeof(ndmsg)), NDA_LLADDR, tb,
             why))
    return std::nullopt;

  // Only entries whose link-layer address the kernel has confirmed or
  // remembers; INCOMPLETE and FAILED ones name no host.
  constexpr std::uint16_t usable =
      NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
  if (!(ndm->ndm_state & usable) || !tb[NDA_DST] || !tb[NDA_LLADDR] ||
      nla_len(tb[NDA_LLADDR]) != 6)
    return std::nullopt;

  NeighbourEntry e;
  e.ifindex = ndm->ndm_ifindex;
  e.state = ndm->ndm_state;
  std::memcpy(e.lladdr.data(), nla_data(tb[NDA_LLADDR]), 6);
  const int len = nla_len(tb[NDA_DST]);
  if (ndm->ndm_family == AF_INET && len == 4) {
    boost::asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), nla_data(tb[NDA_DST]), 4);
    boost::asio::ip::address_v4 a(b);
    if (a.is_multicast() || a.is_unspecified()) return std::nullopt;
    e.address = a.to_string();
  } else if (ndm->ndm_family == AF_INET6 && len == 16) {
    boost::asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), nla_data(tb[NDA_DST]), 16);
    boost::asio::ip::address_v6 a(b);
    if (a.is_multicast() || a.is_unspecified()) return std::nullopt;
    e.address = a.to_string();
    e.link_local = a.is_link_local();
  } else {
    if (why) *why = "NDA_DST of " + std::to_string(len) + " byte(s) for address family " +
                    std::to_string(ndm->ndm_family);
    return std::nullopt;
  }
  return e;
}

}  // namespace mnigs::batman
