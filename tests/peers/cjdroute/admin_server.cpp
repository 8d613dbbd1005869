#include "admin_server.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>

namespace cjdroute_peer {

namespace {

constexpr std::size_t kMaxRequestSize = 512;  // Admin_MAX_REQUEST_SIZE
constexpr std::size_t kFunctionsPerPage = 8;  // Admin_availableFunctions

std::string hex(const unsigned char* bytes, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

bool digest(const EVP_MD* md, const void* data, std::size_t n, unsigned char* out) {
  unsigned int len = 0;
  return EVP_Digest(data, n, out, &len, md, nullptr) == 1;
}

// util/Base32.h: "0123456789bcdfghjklmnpqrstuvwxyz", low bits first.
std::optional<std::string> base32_decode(const std::string& in) {
  static const std::string alphabet = "0123456789bcdfghjklmnpqrstuvwxyz";
  std::string out;
  unsigned next = 0;
  int bits = 0;
  for (char c : in) {
    auto v = alphabet.find(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    if (v == std::string::npos) return std::nullopt;
    next |= static_cast<unsigned>(v) << bits;
    bits += 5;
    if (bits >= 8) {
      out += static_cast<char>(next & 0xff);
      next >>= 8;
      bits -= 8;
    }
  }
  if (bits >= 5 || next) return std::nullopt;
  return out;
}

// A function's arguments as Admin_registerFunction declares them.
struct Arg {
  const char* name;
  const char* type;  // "Int" or "String"
  bool required;
};
struct Function {
  const char* name;
  std::vector<Arg> args;
  // Registered with needsAuth: reached only through "auth" (otherwise
  // cjdroute answers as for an unknown function).
  bool auth;
};
const Function kFunctions[] = {
    {"Admin_asyncEnabled", {}, false},
    {"Admin_availableFunctions", {{"page", "Int", false}}, false},
    // admin/angel/Core.c (cjdns v22.3): registered without needsAuth.
    {"Core_nodeInfo", {}, false},
    {"InterfaceController_peerStats", {{"page", "Int", false}}, false},
    // tunnel/IpTunnel_admin.c (cjdns v22.3): every one needs auth.
    {"IpTunnel_allowConnection",
     {{"publicKeyOfAuthorizedNode", "String", true},
      {"ip6Address", "String", false},
      {"ip6Prefix", "Int", false},
      {"ip6Alloc", "Int", false},
      {"ip4Address", "String", false},
      {"ip4Prefix", "Int", false},
      {"ip4Alloc", "Int", false}},
     true},
    {"IpTunnel_connectTo", {{"publicKeyOfNodeToConnectTo", "String", true}}, true},
    {"IpTunnel_listConnections", {}, true},
    {"IpTunnel_removeConnection", {{"connection", "Int", true}}, true},
    {"IpTunnel_showConnection", {{"connection", "Int", true}}, true},
    {"NodeStore_dumpTable", {{"page", "Int", true}}, false},
    // tunnel/RouteGen_admin.c (cjdns v22.3): every one needs auth.
    {"RouteGen_commit", {{"tunName", "String", true}}, true},
    {"RouteGen_getPrefixes", {{"page", "Int", false}, {"ip6", "Int", false}}, true},
    {"RouteGen_removePrefix", {{"route", "String", true}}, true},
    {"ping", {}, false},
};

Benc error(const std::string& text) {
  Benc d = Benc::new_dict();
  d.entries["error"] = Benc::of(text);
  return d;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char out[32];
  digest(EVP_sha256(), data.data(), data.size(), out);
  return hex(out, sizeof out);
}

std::optional<std::string> key_to_ip(const std::string& key) {
  if (key.size() != 54 || key.compare(52, 2, ".k") != 0) return std::nullopt;
  auto bytes = base32_decode(key.substr(0, 52));
  if (!bytes || bytes->size() != 32) return std::nullopt;
  unsigned char once[64], twice[64];
  if (!digest(EVP_sha512(), bytes->data(), bytes->size(), once) ||
      !digest(EVP_sha512(), once, sizeof once, twice))
    return std::nullopt;
  if (twice[0] != 0xfc) return std::nullopt;
  std::string ip;
  for (int group = 0; group < 8; ++group) {
    if (group) ip += ':';
    ip += hex(twice + 2 * group, 2);
  }
  return ip;
}

AdminServer::AdminServer(std::string password, std::uint64_t start_ms)
    : password_(std::move(password)), start_ms_(start_ms) {}

// cjdroute's "seconds" (util/events/libuv/Time.c Time_currentTimeSeconds):
// milliseconds divided by 1024.
static std::uint64_t cjdns_seconds(std::uint64_t now_ms) { return now_ms / 1024; }

// admin/Admin.c authValid(), step for step.
bool AdminServer::auth_valid(const Benc& message, const std::string& bytes,
                             std::uint64_t now_ms) const {
  const std::uint64_t now = cjdns_seconds(now_ms);
  const std::string* cookie_str = message.get_str("cookie");
  auto cookie =
      static_cast<std::uint32_t>(cookie_str ? std::strtoll(cookie_str->c_str(), nullptr, 10) : 0);
  if (!cookie) {
    const std::int64_t* cookie_int = message.get_int("cookie");
    cookie = cookie_int ? static_cast<std::uint32_t>(*cookie_int) : 0;
  }
  const std::string* submitted = message.get_str("hash");
  if (cookie > now || cookie < now - 20 || !submitted || submitted->size() != 64) return false;

  // strstr() over the message: it stops at the first NUL byte.
  std::string text = bytes.substr(0, bytes.find('\0'));
  auto at = text.find(*submitted);
  if (at == std::string::npos) return false;

  char pass_and_cookie[64];
  std::snprintf(pass_and_cookie, sizeof pass_and_cookie, "%s%u", password_.c_str(), cookie);
  std::string check = bytes;
  check.replace(at, 64, sha256_hex(pass_and_cookie));
  return sha256_hex(check) == *submitted;
}

std::optional<std::string> AdminServer::handle(const std::string& datagram,
                                               std::uint64_t now_ms) {
  if (datagram.size() > kMaxRequestSize) return std::string("d5:error16:Request too big.e");
  auto message = read_message(datagram);
  if (!message) return std::nullopt;  // "Unparsable data" / "garbage after byte": logged, dropped
  const std::string* query = message->get_str("q");
  if (!query) return std::nullopt;  // "Got a non-query"
  const std::string* txid = message->get_str("txid");

  auto reply = [&](Benc d) {
    if (txid) d.entries["txid"] = Benc::of(*txid);
    return write_padded(d);
  };

  if (*query == "cookie") {
    Benc d = Benc::new_dict();
    d.entries["cookie"] =
        Benc::of(std::to_string(static_cast<std::uint32_t>(cjdns_seconds(now_ms))));
    return reply(d);
  }
  std::string function = *query;
  if (*query == "auth") {
    if (!auth_valid(*message, datagram, now_ms)) return reply(error("Auth failed."));
    const std::string* aq = message->get_str("aq");
    function = aq ? *aq : "";
  }

  const Benc* args = message->get_dict("args");
  const bool authed = *query == "auth";
  for (const auto& f : kFunctions) {
    if (function != f.name || (f.auth && !authed)) continue;
    // admin/Admin.c checkArgs(): a required argument missing, or of another
    // type, is refused before the function runs; an optional one of
    // another type is as good as absent (Dict_getIntC/Dict_getStringC).
    for (const Arg& a : f.args) {
      const bool is_int = std::string(a.type) == "Int";
      const bool present =
          args && (is_int ? args->get_int(a.name) != nullptr : args->get_str(a.name) != nullptr);
      if (a.required && !present)
        return reply(error(std::string("Entry [") + a.name +
                           "] is required and must be of type [" + a.type + "]"));
    }
    const std::int64_t* page_arg = args ? args->get_int("page") : nullptr;
    std::int64_t page = page_arg && *page_arg > 0 ? *page_arg : 0;
    if (function == "NodeStore_dumpTable") return reply(dump_table(page, now_ms));
    if (function == "InterfaceController_peerStats") return reply(peer_stats(page, now_ms));
    if (function == "Admin_availableFunctions") return reply(available_functions(page));
    if (function == "Core_nodeInfo") return reply(node_info());
    static const Benc no_args = Benc::new_dict();
    std::optional<Benc> result;
    if (function.rfind("IpTunnel_", 0) == 0) result = ip_tunnel(function, args ? *args : no_args);
    if (function.rfind("RouteGen_", 0) == 0) result = route_gen(function, args ? *args : no_args);
    if (result) {
      for (auto& [name, count] : drops_)
        if (name == function && count > 0) {
          --count;
          return std::nullopt;  // acted on, the reply "lost"
        }
      return reply(*result);
    }
    Benc d = Benc::new_dict();
    if (function == "ping")
      d.entries["q"] = Benc::of("pong");
    else
      d.entries["asyncEnabled"] = Benc::of(std::int64_t{1});
    return reply(d);
  }
  return reply(error("No functions matched your request, try Admin_availableFunctions()"));
}

namespace {

// crypto/Key.c Key_parse() and Key_parse_strerror(): the first 52
// characters decoded, ".k" after them; what follows is not looked at.
std::string key_refusal(const std::string* key) {
  if (!key || key->size() < 52) return "key must be 52 characters long";
  if (key->size() < 54 || key->compare(52, 2, ".k") != 0) return "key must end in .k";
  if (!base32_decode(key->substr(0, 52))) return "failed to base-32 decode key";
  if (!key_to_ip(key->substr(0, 54))) return "not a valid cjdns public key";
  return "";
}

// util/platform/Sockaddr.c Sockaddr_parse(): an address, optionally with a
// port ("1.2.3.4:5", "[fd00::1]:5") or a prefix length ("1.2.3.4/24"), of
// which only the address is kept. The family of what parsed, or 0.
int parse_sockaddr(const std::string& text, std::string* printed) {
  std::string a = text.substr(0, text.find('/'));
  if (!a.empty() && a.front() == '[') {
    const auto close = a.find(']');
    if (close == std::string::npos) return 0;
    a = a.substr(1, close - 1);
  } else if (std::count(a.begin(), a.end(), ':') == 1) {
    a = a.substr(0, a.find(':'));
  }
  unsigned char bytes[16];
  char out[INET6_ADDRSTRLEN];
  for (int family : {AF_INET, AF_INET6})
    if (::inet_pton(family, a.c_str(), bytes) == 1) {
      // Printed back as Sockaddr_print() does for a port-0 address.
      *printed = ::inet_ntop(family, bytes, out, sizeof out);
      return family;
    }
  return 0;
}

Benc connection_reply(std::int64_t number) {
  Benc d = Benc::new_dict();
  d.entries["connection"] = Benc::of(number);
  d.entries["error"] = Benc::of("none");
  return d;
}

}  // namespace

// tunnel/IpTunnel_admin.c and tunnel/IpTunnel.c (cjdns v22.3), the checks in
// their order.
Benc AdminServer::ip_tunnel(const std::string& function, const Benc& args) {
  if (function == "IpTunnel_allowConnection") {
    const std::string* ip6 = args.get_str("ip6Address");
    const std::string* ip4 = args.get_str("ip4Address");
    const std::int64_t* ip6_prefix = args.get_int("ip6Prefix");
    const std::int64_t* ip6_alloc = args.get_int("ip6Alloc");
    const std::int64_t* ip4_prefix = args.get_int("ip4Prefix");
    const std::int64_t* ip4_alloc = args.get_int("ip4Alloc");
    if (!ip6 && !ip4) return error("Must specify ip6Address or ip4Address");
    const std::string* key = args.get_str("publicKeyOfAuthorizedNode");
    if (auto why = key_refusal(key); !why.empty()) return error(why);
    if (ip6_prefix && !ip6) return error("Must specify ip6Address with ip6Prefix");
    if (ip6_alloc && !ip6) return error("Must specify ip6Address with ip6Alloc");
    if (ip6_prefix && (*ip6_prefix < 0 || *ip6_prefix > 128))
      return error("ip6Prefix out of range: must be 0 to 128");
    if (ip6_alloc && (*ip6_alloc < 1 || *ip6_alloc > 128))
      return error("ip6Alloc out of range: must be 1 to 128");
    if (ip4_prefix && !ip4) return error("Must specify ip4Address with ip4Prefix");
    if (ip4_alloc && !ip4) return error("Must specify ip4Address with ip4Alloc");
    if (ip4_prefix && (*ip4_prefix < 0 || *ip4_prefix > 32))
      return error("ip4Prefix out of range: must be 0 to 32");
    if (ip4_alloc && (*ip4_alloc < 1 || *ip4_alloc > 32))
      return error("ip4Alloc out of range: must be 1 to 32");
    TunnelConnection c;
    if (ip6 && parse_sockaddr(*ip6, &c.ip6) != AF_INET6) return error("malformed ip6Address");
    if (ip4 && parse_sockaddr(*ip4, &c.ip4) != AF_INET) return error("malformed ip4Address");
    c.number = next_connection_++;
    c.key = key->substr(0, 54);
    c.outgoing = false;
    c.ip6_prefix = ip6_prefix ? *ip6_prefix : 128;
    c.ip6_alloc = ip6_alloc ? *ip6_alloc : 128;
    c.ip4_prefix = ip4_prefix ? *ip4_prefix : 32;
    c.ip4_alloc = ip4_alloc ? *ip4_alloc : 32;
    // Incoming connections are kept ahead of outgoing ones.
    auto at = std::find_if(tunnels_.begin(), tunnels_.end(),
                           [](const TunnelConnection& t) { return t.outgoing; });
    tunnels_.insert(at, c);
    return connection_reply(c.number);
  }
  if (function == "IpTunnel_connectTo") {
    const std::string* key = args.get_str("publicKeyOfNodeToConnectTo");
    if (auto why = key_refusal(key); !why.empty()) return error(why);
    TunnelConnection c;
    c.number = next_connection_++;
    c.key = key->substr(0, 54);
    c.outgoing = true;
    // The server's addresses would arrive later over the cjdns network
    // (IpTunnel_getAddresses); until then showConnection has none.
    for (const auto& [issuer, issue] : issues_) {
      if (issuer != c.key) continue;
      c.ip4 = issue.ip4;
      c.ip6 = issue.ip6;
      c.ip4_prefix = issue.ip4_prefix;
      c.ip4_alloc = issue.ip4_alloc;
      c.ip6_prefix = issue.ip6_prefix;
      c.ip6_alloc = issue.ip6_alloc;
      // tunnel/IpTunnel.c addAddress: RouteGen_addPrefix(addr/prefix).
      if (!c.ip4.empty() && c.ip4_prefix < 32)
        prefixes4_.push_back(c.ip4 + "/" + std::to_string(c.ip4_prefix));
      if (!c.ip6.empty() && c.ip6_prefix < 128)
        prefixes6_.push_back(c.ip6 + "/" + std::to_string(c.ip6_prefix));
    }
    tunnels_.push_back(c);
    return connection_reply(c.number);
  }
  if (function == "IpTunnel_listConnections") {
    Benc list = Benc::new_list();
    for (const auto& t : tunnels_) list.items.push_back(Benc::of(t.number));
    Benc d = Benc::new_dict();
    d.entries["connections"] = list;
    d.entries["error"] = Benc::of("none");
    return d;
  }
  const std::int64_t number = *args.get_int("connection");  // required: checked
  auto it = std::find_if(tunnels_.begin(), tunnels_.end(),
                         [number](const TunnelConnection& t) { return t.number == number; });
  if (function == "IpTunnel_removeConnection") {
    if (it == tunnels_.end()) return error("not_found");
    tunnels_.erase(it);
    return connection_reply(number);
  }
  // IpTunnel_showConnection
  if (it == tunnels_.end()) return error("connection not found");
  Benc d = Benc::new_dict();
  if (!it->ip6.empty()) {
    d.entries["ip6Address"] = Benc::of(it->ip6);
    d.entries["ip6Prefix"] = Benc::of(it->ip6_prefix);
    d.entries["ip6Alloc"] = Benc::of(it->ip6_alloc);
  }
  if (!it->ip4.empty()) {
    d.entries["ip4Address"] = Benc::of(it->ip4);
    d.entries["ip4Prefix"] = Benc::of(it->ip4_prefix);
    d.entries["ip4Alloc"] = Benc::of(it->ip4_alloc);
  }
  d.entries["key"] = Benc::of(it->key);
  d.entries["outgoing"] = Benc::of(std::int64_t{it->outgoing ? 1 : 0});
  d.entries["error"] = Benc::of("none");
  return d;
}

// tunnel/RouteGen_admin.c (cjdns v22.3), without the kernel: the prefixes
// are kept as Sockaddr_print prints them ("10.94.0.2/0"), removal matches
// address and length exactly (comparePrefixes4/6), commit answers "none".
Benc AdminServer::route_gen(const std::string& function, const Benc& args) {
  if (function == "RouteGen_commit") return error("none");
  if (function == "RouteGen_getPrefixes") {
    const std::int64_t* page = args.get_int("page");
    const std::int64_t* ip6 = args.get_int("ip6");
    const auto& list = ip6 && *ip6 > 0 ? prefixes6_ : prefixes4_;
    const std::size_t from = page && *page > 0 ? static_cast<std::size_t>(*page) * 20 : 0;
    Benc routes = Benc::new_list();
    for (std::size_t i = from; i < list.size() && i < from + 20; ++i)
      routes.items.push_back(Benc::of(list[i]));
    Benc d = Benc::new_dict();
    if (from + 20 < list.size()) d.entries["more"] = Benc::of(std::int64_t{1});
    d.entries["routes"] = routes;
    return d;
  }
  // RouteGen_removePrefix
  const std::string route = *args.get_str("route");
  const auto slash = route.find('/');
  std::string printed;
  const int family = route.size() > 63 ? 0 : parse_sockaddr(route, &printed);
  if (!family) return error("parse_failed");
  const std::string key = printed + (slash == std::string::npos
                                         ? (family == AF_INET ? "/32" : "/128")
                                         : route.substr(slash));
  auto& list = family == AF_INET ? prefixes4_ : prefixes6_;
  const auto before = list.size();
  list.erase(std::remove(list.begin(), list.end(), key), list.end());
  return error(list.size() < before ? "none" : "no_such_route");
}

// admin/angel/Core.c nodeInfo() (cjdns v22.3): the node's own address as
// Address_toStringKey prints it (version, the self route's label, key), its
// IPv6 address as AddrTools_printIp prints it, and the v3x5x8 encoding
// scheme of switch/NumberCompress.h, as EncodingScheme_asList lists it
// (last form first) and serializes it.
Benc AdminServer::node_info() const {
  Benc d = Benc::new_dict();
  if (!self_) {
    // A cjdroute always has a key; a stand-in without "self" has none.
    d.entries["error"] = Benc::of("no self node configured in the stand-in");
    return d;
  }
  d.entries["myAddr"] =
      Benc::of("v" + std::to_string(kProtocolVersion) + ".0000.0000.0000.0001." + self_->key);
  d.entries["myIp6"] = Benc::of(self_->ip);
  d.entries["compressedSchemeHex"] = Benc::of("6114458100");
  Benc scheme = Benc::new_list();
  for (auto [bits, prefix_len, prefix] :
       {std::tuple{8, 2, "00"}, std::tuple{5, 2, "02"}, std::tuple{3, 1, "01"}}) {
    Benc form = Benc::new_dict();
    form.entries["bitCount"] = Benc::of(std::int64_t{bits});
    form.entries["prefixLen"] = Benc::of(std::int64_t{prefix_len});
    form.entries["prefix"] = Benc::of(prefix);
    scheme.items.push_back(form);
  }
  d.entries["encodingScheme"] = scheme;
  d.entries["version"] = Benc::of(std::int64_t{kProtocolVersion});
  d.entries["error"] = Benc::of("none");
  return d;
}

Benc AdminServer::routing_entry(const Node& n, std::int64_t since_ping_ms) {
  Benc e = Benc::new_dict();
  e.entries["ip"] = Benc::of(n.ip);
  e.entries["addr"] = Benc::of("v" + std::to_string(n.version) + "." + n.path + "." + n.key);
  e.entries["path"] = Benc::of(n.path);
  e.entries["link"] = Benc::of(n.link);
  e.entries["version"] = Benc::of(n.version);
  e.entries["time"] = Benc::of(since_ping_ms);
  e.entries["bucket"] = Benc::of(n.bucket);
  return e;
}

Benc AdminServer::dump_table(std::int64_t page, std::uint64_t now_ms) const {
  std::vector<const Node*> all;
  for (const auto& n : nodes_) all.push_back(&n);
  if (self_)
    all.insert(all.begin() + static_cast<std::ptrdiff_t>(std::min(self_at_, all.size())), &*self_);
  Benc table = Benc::new_list();
  const std::size_t from = static_cast<std::size_t>(page) * kTablePageSize;
  bool full = false;
  for (std::size_t i = from; i < all.size() && i < from + kTablePageSize; ++i) {
    // cjdroute pings its nodes now and then: "time" is how long ago, in ms.
    const bool is_self = self_ && all[i] == &*self_;
    const std::uint64_t up_ms = now_ms - start_ms_;
    auto since_ping = static_cast<std::int64_t>(is_self ? up_ms : (up_ms + 1000 * i) % 30000);
    table.items.push_back(routing_entry(*all[i], since_ping));
    full = i + 1 == from + kTablePageSize;
  }
  Benc d = Benc::new_dict();
  d.entries["routingTable"] = table;
  // NodeStore_admin.c sets "more" when the page's last slot held a node,
  // whether or not another follows.
  if (full) d.entries["more"] = Benc::of(std::int64_t{1});
  d.entries["count"] = Benc::of(static_cast<std::int64_t>(all.size()));
  d.entries["peers"] = Benc::of(static_cast<std::int64_t>(peers_.size()));
  d.entries["deprecation"] = Benc::of("ip,path,version will soon be removed");
  return d;
}

Benc AdminServer::peer_stats(std::int64_t page, std::uint64_t now_ms) const {
  Benc list = Benc::new_list();
  std::size_t i = static_cast<std::size_t>(page) * kPeerPageSize;
  // Counters move as a live link's do: about 1 kB/s and 8 packets/s each way.
  const auto up_ms = static_cast<std::int64_t>(now_ms - start_ms_);
  for (std::size_t counter = 0; i < peers_.size() && counter < kPeerPageSize; ++i, ++counter) {
    const Node& p = peers_[i];
    const auto k = static_cast<std::int64_t>(i) + 1;
    Benc e = Benc::new_dict();
    e.entries["addr"] = Benc::of("v" + std::to_string(p.version) + "." + p.path + "." + p.key);
    e.entries["bytesIn"] = Benc::of(up_ms * (1000 + k) / 1000);
    e.entries["bytesOut"] = Benc::of(up_ms * (1000 + 2 * k) / 1000);
    e.entries["recvKbps"] = Benc::of(std::int64_t{8});
    e.entries["sendKbps"] = Benc::of(std::int64_t{8} + k);
    e.entries["lladdr"] = Benc::of(p.lladdr);
    e.entries["state"] = Benc::of(p.state);
    e.entries["last"] = Benc::of(static_cast<std::int64_t>(now_ms) - 50 * k);
    e.entries["isIncoming"] = Benc::of(std::int64_t{k % 2});
    e.entries["duplicates"] = Benc::of(std::int64_t{0});
    e.entries["lostPackets"] = Benc::of(up_ms / 60000);
    e.entries["receivedOutOfRange"] = Benc::of(std::int64_t{0});
    e.entries["ifNum"] = Benc::of(std::int64_t{0});
    if (!p.user.empty()) e.entries["user"] = Benc::of(p.user);
    e.entries["receivedPackets"] = Benc::of(up_ms * 8 / 1000);
    list.items.push_back(e);
  }
  Benc d = Benc::new_dict();
  d.entries["peers"] = list;
  d.entries["total"] = Benc::of(static_cast<std::int64_t>(peers_.size()));
  if (i < peers_.size()) d.entries["more"] = Benc::of(std::int64_t{1});
  return d;
}

Benc AdminServer::available_functions(std::int64_t page) const {
  Benc functions = Benc::new_dict();
  std::size_t i = static_cast<std::size_t>(page) * kFunctionsPerPage;
  std::size_t count = 0;
  const std::size_t total = sizeof kFunctions / sizeof kFunctions[0];
  for (; i < total && count < kFunctionsPerPage; ++i, ++count) {
    Benc args = Benc::new_dict();
    for (const Arg& a : kFunctions[i].args) {
      Benc spec = Benc::new_dict();
      spec.entries["required"] = Benc::of(std::int64_t{a.required ? 1 : 0});
      spec.entries["type"] = Benc::of(a.type);
      args.entries[a.name] = spec;
    }
    functions.entries[kFunctions[i].name] = args;
  }
  Benc d = Benc::new_dict();
  d.entries["availableFunctions"] = functions;
  if (count >= kFunctionsPerPage) d.entries["more"] = Benc::of(std::int64_t{1});
  return d;
}

}  // namespace cjdroute_peer
