#include "iptunnel_calls.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include <json/reader.h>
#include <json/value.h>

#include "keys.hpp"  // discovery/cjdns

namespace mnigs::iptunnel {

namespace {

// An address of the family, printed canonically; "" for anything else.
std::string canonical(const std::string& text, bool v6) {
  if (text.empty() || text.size() > 45) return "";
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  const int family = v6 ? AF_INET6 : AF_INET;
  if (::inet_pton(family, text.c_str(), bytes) != 1) return "";
  return ::inet_ntop(family, bytes, out, sizeof out);
}

// A reply's "error" when it says anything but "none"; "" otherwise.
std::string reply_error(const bencode::Value& reply) {
  auto e = reply.get_string("error");
  return e && *e != "none" ? *e : "";
}

}  // namespace

std::string key_refusal(const std::string& key) {
  if (key.empty()) return "no key";
  if (key.size() != 54)
    return "a cjdns public key is 54 characters (52 of base32 and \".k\"), not " +
           std::to_string(key.size());
  if (key.compare(52, 2, ".k") != 0) return "key must end in .k";
  auto bytes = cjdns::base32_decode(std::string_view(key).substr(0, 52));
  if (!bytes || bytes->size() != 32) return "failed to base-32 decode key";
  // Key_stringify's form: lower case, and no other spelling of the bytes.
  if (cjdns::base32_encode(*bytes) != key.substr(0, 52))
    return "the key is not written as cjdns writes keys (lower case)";
  std::string why;
  if (!cjdns::key_to_ip(key, &why)) return "not a valid cjdns public key (" + why + ")";
  return "";
}

bencode::Value allow_args(const Allowance& a) {
  std::map<std::string, bencode::Value> d;
  d["publicKeyOfAuthorizedNode"] = bencode::Value::string(a.key);
  if (!a.ip4.empty()) {
    d["ip4Address"] = bencode::Value::string(a.ip4);
    d["ip4Prefix"] = bencode::Value::integer(a.ip4_prefix);
    d["ip4Alloc"] = bencode::Value::integer(a.ip4_alloc);
  }
  if (!a.ip6.empty()) {
    d["ip6Address"] = bencode::Value::string(a.ip6);
    d["ip6Prefix"] = bencode::Value::integer(a.ip6_prefix);
    d["ip6Alloc"] = bencode::Value::integer(a.ip6_alloc);
  }
  return bencode::Value::dict(std::move(d));
}

bencode::Value connect_args(const std::string& gateway_key) {
  return bencode::Value::dict(
      {{"publicKeyOfNodeToConnectTo", bencode::Value::string(gateway_key)}});
}

bencode::Value connection_args(std::int64_t connection) {
  return bencode::Value::dict({{"connection", bencode::Value::integer(connection)}});
}

std::optional<std::int64_t> parse_connection(const bencode::Value& reply, std::string* why) {
  if (auto e = reply_error(reply); !e.empty()) {
    *why = e;
    return std::nullopt;
  }
  auto n = reply.get_integer("connection");
  // cjdroute numbers connections with an int from 0 up.
  if (!n || *n < 0 || *n > 0x7fffffff) {
    *why = "a reply without a connection number";
    return std::nullopt;
  }
  return *n;
}

std::optional<std::vector<std::int64_t>> parse_connections(const bencode::Value& reply,
                                                           std::string* why) {
  if (auto e = reply_error(reply); !e.empty()) {
    *why = e;
    return std::nullopt;
  }
  const bencode::Value* list = reply.find("connections");
  if (!list || !list->is_list()) {
    *why = "a reply without a \"connections\" list";
    return std::nullopt;
  }
  if (list->l.size() > kMaxConnections) {
    *why = "a list of " + std::to_string(list->l.size()) + " connections (more than " +
           std::to_string(kMaxConnections) + ")";
    return std::nullopt;
  }
  std::vector<std::int64_t> out;
  for (const auto& v : list->l) {
    if (!v.is_integer() || v.i < 0 || v.i > 0x7fffffff) {
      *why = "a connection list holding something other than connection numbers";
      return std::nullopt;
    }
    out.push_back(v.i);
  }
  return out;
}

std::optional<Connection> parse_connection_shown(const bencode::Value& reply, std::int64_t number,
                                                 std::string* why) {
  auto fail = [&](const std::string& what) -> std::optional<Connection> {
    *why = what;
    return std::nullopt;
  };
  if (auto e = reply_error(reply); !e.empty()) return fail(e);
  Connection c;
  c.number = number;
  auto key = reply.get_string("key");
  if (!key || !key_refusal(*key).empty())
    return fail("connection " + std::to_string(number) + " is shown without a valid key");
  c.key = *key;
  auto outgoing = reply.get_integer("outgoing");
  if (!outgoing || (*outgoing != 0 && *outgoing != 1))
    return fail("connection " + std::to_string(number) + " is shown without \"outgoing\" 0 or 1");
  c.outgoing = *outgoing == 1;
  for (bool v6 : {false, true}) {
    const std::string f = v6 ? "ip6" : "ip4";
    const int max = v6 ? 128 : 32;
    auto address = reply.get_string(f + "Address");
    if (!address) {
      if (reply.find(f + "Address")) return fail(f + "Address is not a string");
      continue;
    }
    std::string text = canonical(*address, v6);
    if (text.empty()) return fail(f + "Address \"" + address->substr(0, 64) + "\" is no address");
    auto prefix = reply.get_integer(f + "Prefix");
    auto alloc = reply.get_integer(f + "Alloc");
    if (!prefix || *prefix < 0 || *prefix > max || !alloc || *alloc < 0 || *alloc > max)
      return fail(f + "Prefix and " + f + "Alloc must be 0.." + std::to_string(max));
    (v6 ? c.ip6 : c.ip4) = text;
    (v6 ? c.ip6_prefix : c.ip4_prefix) = static_cast<int>(*prefix);
    (v6 ? c.ip6_alloc : c.ip4_alloc) = static_cast<int>(*alloc);
  }
  return c;
}

std::optional<NodeIdentity> parse_node_info(const bencode::Value& reply, std::string* why) {
  if (auto e = reply_error(reply); !e.empty()) {
    *why = e;
    return std::nullopt;
  }
  auto addr = reply.get_string("myAddr");
  auto ip = reply.get_string("myIp6");
  if (!addr || !ip) {
    *why = "Core_nodeInfo answered without myAddr and myIp6";
    return std::nullopt;
  }
  std::string addr_why;
  auto node = cjdns::parse_node_address(*addr, &addr_why);
  if (!node) {
    *why = "Core_nodeInfo's myAddr: " + addr_why;
    return std::nullopt;
  }
  if (auto refusal = key_refusal(node->key); !refusal.empty()) {
    *why = "Core_nodeInfo's key: " + refusal;
    return std::nullopt;
  }
  auto owned = cjdns::key_to_ip(node->key, &addr_why);
  auto stated = cjdns::parse_ip(*ip);
  if (!owned || !stated || *owned != *stated) {
    *why = "Core_nodeInfo's myIp6 \"" + ip->substr(0, 45) + "\" is not the address of its key";
    return std::nullopt;
  }
  NodeIdentity n;
  n.key = node->key;
  n.ip6 = canonical(*ip, true);
  return n;
}

std::string issued_refusal(const Connection& c, const std::string& ip4, const std::string& ip6) {
  if (!addresses_issued(c)) return "";
  for (bool v6 : {false, true}) {
    const std::string& want = v6 ? ip6 : ip4;
    const std::string& got = v6 ? c.ip6 : c.ip4;
    const int host = v6 ? 128 : 32;
    const int prefix = v6 ? c.ip6_prefix : c.ip4_prefix;
    const int alloc = v6 ? c.ip6_alloc : c.ip4_alloc;
    const std::string f = v6 ? "IPv6" : "IPv4";
    // An address of a family the session has none of may arrive later
    // than the other: absent is fine, anything else is not.
    if (got.empty()) continue;
    if (got != canonical(want, v6))
      return "the gateway's cjdroute issued the " + f + " address " + got + " instead of " +
             (want.empty() ? std::string("none") : want);
    if (alloc != host || prefix != host)
      return "the gateway's cjdroute issued " + got + " with alloc /" + std::to_string(alloc) +
             " and prefix /" + std::to_string(prefix) + " instead of /" + std::to_string(host) +
             " (a shorter prefix makes this node's cjdroute route into its TUN)";
  }
  return "";
}

bencode::Value routegen_prefix_args(const std::string& address, int prefix) {
  return bencode::Value::dict(
      {{"route", bencode::Value::string(address + "/" + std::to_string(prefix))}});
}

bencode::Value routegen_commit_args(const std::string& tun) {
  return bencode::Value::dict({{"tunName", bencode::Value::string(tun)}});
}

std::string mesh_key_refusal(const std::string& key, const std::string& address) {
  auto mesh = cjdns::parse_ip(address);
  if (!mesh || (*mesh)[0] != 0xfc) return "";
  std::string why;
  auto owned = cjdns::key_to_ip(key, &why);
  if (!owned) return "the key owns no cjdns address (" + why + ")";
  if (*owned != *mesh)
    return "the key is not that of the cjdns node at " + canonical(address, true) +
           ", whose address it would have to derive to";
  return "";
}

std::string network_of(const std::string& address, int prefix, bool v6) {
  unsigned char bytes[16] = {};
  const int family = v6 ? AF_INET6 : AF_INET;
  const int bits = v6 ? 128 : 32;
  if (prefix < 0 || prefix > bits || ::inet_pton(family, address.c_str(), bytes) != 1) return "";
  for (int i = 0; i < bits / 8; ++i) {
    const int keep = std::max(0, std::min(8, prefix - 8 * i));
    bytes[i] &= static_cast<unsigned char>(0xff00 >> keep);
  }
  char out[INET6_ADDRSTRLEN];
  return std::string(::inet_ntop(family, bytes, out, sizeof out)) + "/" + std::to_string(prefix);
}

std::vector<std::string> cjdroute_routes(const std::string& address, int prefix, bool v6) {
  if (prefix >= (v6 ? 128 : 32)) return {};
  if (prefix == 0) return v6 ? std::vector<std::string>{"::/1", "8000::/1"}
                             : std::vector<std::string>{"0.0.0.0/1", "128.0.0.0/1"};
  std::string net = network_of(address, prefix, v6);
  if (net.empty()) return {};
  return {net};
}

}  // namespace mnigs::iptunnel

namespace mnigs::iptunnel {

std::string tunnel_params_refusal(const Json::Value& p) {
  if (!p["address4"].isString() && !p["address6"].isString())
    return "the gateway gave the session no tunnel address";
  if (p["address6"].isString()) {
    unsigned char b[16];
    if (::inet_pton(AF_INET6, p["address6"].asString().c_str(), b) == 1 && b[0] == 0xfc)
      return "\"address6\" " + p["address6"].asString() +
             " is inside cjdns' fc00::/8, where the mesh's own addresses are";
  }
  for (auto [name, host] : {std::pair{"cjdnsPrefix4", 32}, std::pair{"cjdnsPrefix6", 128}})
    if (p.isMember(name) && (!p[name].isInt() || p[name].asInt() != host))
      return std::string("\"") + name + "\" must be " + std::to_string(host) +
             ": a shorter prefix makes this node's cjdroute route into its TUN by itself";
  return "";
}

std::string device_holding(const std::string& ip_json, const std::string& address) {
  const std::string wanted = canonical(address, true);
  if (wanted.empty()) return "";
  Json::Value root;
  Json::CharReaderBuilder builder;
  std::string errors;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  if (!reader->parse(ip_json.data(), ip_json.data() + ip_json.size(), &root, &errors) ||
      !root.isArray())
    return "";
  for (const auto& link : root) {
    if (!link.isObject() || !link["ifname"].isString()) continue;
    for (const auto& a : link["addr_info"])
      if (a.isObject() && a["local"].isString() && canonical(a["local"].asString(), true) == wanted)
        return link["ifname"].asString();
  }
  return "";
}

}  // namespace mnigs::iptunnel
