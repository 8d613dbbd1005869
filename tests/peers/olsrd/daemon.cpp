#include "daemon.hpp"

#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <map>
#include <utility>
#include <vector>

namespace olsrd_peer {

namespace {

// ------------------------------------------------------------------ tables
// The SIW_* bits of lib/info/info_types.h that the peer renders.
enum Table : unsigned {
  kNeighbors = 1u << 0,
  kLinks = 1u << 1,
  kRoutes = 1u << 2,
  kHna = 1u << 3,
  kMid = 1u << 4,
  kTopology = 1u << 5,
  kGateways = 1u << 6,
  kInterfaces = 1u << 7,
  kTwoHop = 1u << 8,
  kSgw = 1u << 9,
  kVersion = 1u << 11,
  kConfig = 1u << 12,
  kPlugins = 1u << 13,
  kRuntime = kNeighbors | kLinks | kRoutes | kHna | kMid | kTopology | kGateways | kInterfaces |
             kTwoHop | kSgw,
  kStartup = kVersion | kConfig | kPlugins,
  kAll = kRuntime | kStartup,
};

// Command names of each plugin (isCommand() in lib/jsoninfo and lib/txtinfo).
const std::vector<std::pair<std::string, unsigned>>& commands(Info which) {
  static const std::vector<std::pair<std::string, unsigned>> json = {
      {"/all", kAll},
      {"/runtime", kRuntime},
      {"/startup", kStartup},
      {"/neighbors", kNeighbors},
      {"/links", kLinks},
      {"/routes", kRoutes},
      {"/hna", kHna},
      {"/mid", kMid},
      {"/topology", kTopology},
      {"/gateways", kGateways},
      {"/interfaces", kInterfaces},
      {"/2hop", kTwoHop},
      {"/sgw", kSgw},
      {"/version", kVersion},
      {"/config", kConfig},
      {"/plugins", kPlugins},
      {"/neighbours", kNeighbors | kLinks}};
  // txtinfo has no config/plugins tables.
  static const std::vector<std::pair<std::string, unsigned>> txt = {
      {"/all", kAll & ~(kConfig | kPlugins)},
      {"/runtime", kRuntime},
      {"/startup", kVersion},
      {"/nei", kNeighbors},
      {"/lin", kLinks},
      {"/rou", kRoutes},
      {"/hna", kHna},
      {"/mid", kMid},
      {"/top", kTopology},
      {"/gat", kGateways},
      {"/int", kInterfaces},
      {"/2ho", kTwoHop},
      {"/sgw", kSgw},
      {"/ver", kVersion},
      {"/neighbours", kNeighbors | kLinks}};
  return which == Info::jsoninfo ? json : txt;
}

std::string fmt3(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

std::string fmtf(double v) {  // abuf_json_float: "%f"
  char b[48];
  std::snprintf(b, sizeof b, "%f", v);
  return b;
}

struct Edge {
  const std::string* from;
  const std::string* to;
  unsigned from_hops;
};

// Both directions of every via link of reachable nodes: what the TCs of
// the nodes (and our own) advertise.
std::vector<Edge> edges(const Network& net) {
  std::vector<Edge> out;
  for (const Node* n : net.reachable()) {
    const Node* up = net.find(n->via);
    out.push_back({&n->via, &n->address, up ? up->hops : 0});
    out.push_back({&n->address, &n->via, n->hops});
  }
  return out;
}

std::vector<const Node*> with_hna(const Network& net) {
  std::vector<const Node*> out;
  for (const auto& n : net.nodes)
    if (!n.hna.empty()) out.push_back(&n);
  return out;
}

// ------------------------------------------------------------------ jsoninfo
// Compact JSON as lib/info/json_helpers.c writes it without "pretty":
// "key": value pairs joined by ",".
class Obj {
 public:
  Obj& str(const std::string& k, const std::string& v) { return raw(k, "\"" + v + "\""); }
  Obj& num(const std::string& k, long long v) { return raw(k, std::to_string(v)); }
  Obj& flt(const std::string& k, double v) { return raw(k, fmtf(v)); }
  Obj& boolean(const std::string& k, bool v) { return raw(k, v ? "true" : "false"); }
  Obj& raw(const std::string& k, const std::string& v) {
    text_ += (text_.empty() ? "" : ",") + ("\"" + k + "\": " + v);
    return *this;
  }
  std::string text() const { return "{" + text_ + "}"; }
  std::string members() const { return text_; }

 private:
  std::string text_;
};

std::string array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "]";
}

std::string json_neighbors(const Network& net, bool two_hop_list) {
  std::vector<std::string> items;
  for (const Node* n : net.neighbours()) {
    auto behind = net.behind(n->address);
    Obj o;
    o.str("ipAddress", n->address).boolean("symmetric", n->symmetric).num("willingness", 3);
    o.boolean("isMultiPointRelay", n->symmetric && !behind.empty())
        .boolean("wasMultiPointRelay", false);
    o.boolean("multiPointRelaySelector", false).boolean("skip", false);
    o.num("neighbor2nocov", 0).num("linkcount", 1);
    if (two_hop_list) {
      std::vector<std::string> two;
      for (const Node* b : behind) two.push_back("\"" + b->address + "\"");
      o.raw("twoHopNeighbors", array(two));
    }
    o.num("twoHopNeighborCount", static_cast<long long>(behind.size()));
    items.push_back(o.text());
  }
  return array(items);
}

std::string json_links(const Network& net) {
  std::vector<std::string> items;
  for (const Node* n : net.neighbours()) {
    const char* status = n->symmetric ? "SYMMETRIC" : "ASYMMETRIC";
    Obj o;
    o.str("localIP", net.self).str("remoteIP", n->address).str("olsrInterface", net.interface);
    o.str("ifName", net.interface)
        .num("validityTime", 29500)
        .num("symmetryTime", n->symmetric ? 5500 : 0);
    o.num("asymmetryTime", 29500).num("vtime", 30000).str("currentLinkStatus", status);
    o.str("previousLinkStatus", status).flt("hysteresis", 0).boolean("pending", false);
    o.num("lostLinkTime", 0).num("helloTime", 1900).num("lastHelloTime", 2000);
    o.boolean("seqnoValid", true).num("seqno", 4321).num("lossHelloInterval", 2000);
    o.num("lossTime", 3000)
        .num("lossMultiplier", 65536)
        .flt("linkCost", n->symmetric ? 1.0 : 1024.0);
    o.flt("linkQuality", n->symmetric ? 1.0 : 0.25)
        .flt("neighborLinkQuality", n->symmetric ? 1.0 : 0);
    items.push_back(o.text());
  }
  return array(items);
}

std::string json_routes(const Network& net) {
  std::vector<std::string> items;
  auto route = [&](const std::string& dst, unsigned len, const Node& via_node) {
    Obj o;
    o.str("destination", dst).num("genmask", len).str("gateway", via_node.next_hop);
    o.num("metric", via_node.hops).flt("etx", via_node.hops).flt("rtpMetricCost", via_node.hops);
    o.str("networkInterface", net.interface);
    items.push_back(o.text());
  };
  for (const Node* n : net.reachable()) route(n->address, n->v6 ? 128 : 32, *n);
  for (const Node* n : net.reachable())
    for (const auto& p : n->hna) route(p.address, p.length, *n);
  return array(items);
}

std::string json_hna(const Network& net) {
  std::vector<std::string> items;
  for (const auto& p : net.own_hna)
    items.push_back(Obj()
                        .str("gateway", net.self)
                        .str("destination", p.address)
                        .num("genmask", p.length)
                        .num("validityTime", 0)
                        .text());
  for (const Node* n : with_hna(net))
    for (const auto& p : n->hna)
      items.push_back(Obj()
                          .str("gateway", n->address)
                          .str("destination", p.address)
                          .num("genmask", p.length)
                          .num("validityTime", 284000)
                          .text());
  return array(items);
}

std::string json_topology(const Network& net) {
  std::vector<std::string> items;
  for (const Edge& e : edges(net)) {
    Obj o;
    o.str("lastHopIP", *e.from).flt("pathCost", e.from_hops).num("validityTime", 287000);
    o.num("refCount", 2).num("msgSeq", 40000 + e.from_hops).num("msgHops", e.from_hops);
    o.num("hops", e.from_hops).num("ansn", 17).num("tcIgnored", 0).num("errSeq", 0);
    o.boolean("errSeqValid", false).str("destinationIP", *e.to).flt("tcEdgeCost", 1.0);
    o.num("ansnEdge", 17).flt("linkQuality", 1.0).flt("neighborLinkQuality", 1.0);
    items.push_back(o.text());
  }
  return array(items);
}

std::string jsoninfo_body(const Network& net, unsigned what) {
  Obj o;  // output_start() of lib/jsoninfo
  o.num("pid", ::getpid()).num("systemTime", std::time(nullptr)).num("timeSinceStartup", 3612345);
  o.str("configurationChecksum", "0000000000000000000000000000000000000000");
  if (what & kNeighbors) o.raw("neighbors", json_neighbors(net, false));
  if (what & kLinks) o.raw("links", json_links(net));
  if (what & kRoutes) o.raw("routes", json_routes(net));
  if (what & kHna) o.raw("hna", json_hna(net));
  if (what & kMid) o.raw("mid", "[]");
  if (what & kTopology) o.raw("topology", json_topology(net));
  if (what & kGateways) o.raw("gateways", "{\"ipv4\": [],\"ipv6\": []}");
  if (what & kInterfaces) o.raw("interfaces", "[]");
  if (what & kTwoHop) o.raw("2hop", json_neighbors(net, true));
  if (what & kSgw) o.raw("sgw", "{\"egress\": [],\"ipv4\": [],\"ipv6\": []}");
  if (what & kVersion)
    o.raw("version", Obj()
                         .str("version", "olsr.org - 0.9.8-mnigs-test")
                         .str("gitDescriptor", "v0.9.8")
                         .str("gitSha", "")
                         .str("releaseVersion", "0.9.8")
                         .str("sourceHash", "")
                         .text());
  if (what & kConfig) o.raw("config", "{}");
  if (what & kPlugins) o.raw("plugins", "[]");
  return o.text() + "\n";
}

// ------------------------------------------------------------------ txtinfo

std::string txt_neighbors(const Network& net, bool two_hop_list) {
  std::string out = "Table: Neighbors\nIP address\tSYM\tMPR\tMPRS\tWill.\t";
  out += two_hop_list ? "(2-hop address)+\n" : "2-hop count\n";
  for (const Node* n : net.neighbours()) {
    auto behind = net.behind(n->address);
    out += n->address + "\t" + (n->symmetric ? "YES" : "NO") + "\t" +
           (n->symmetric && !behind.empty() ? "YES" : "NO") + "\tNO\t3";
    if (two_hop_list)
      for (const Node* b : behind) out += "\t" + b->address;
    else
      out += "\t" + std::to_string(behind.size());
    out += "\n";
  }
  return out + "\n";
}

std::string txtinfo_body(const Network& net, unsigned what) {
  std::string out;
  if (what & kNeighbors) out += txt_neighbors(net, false);
  if (what & kLinks) {
    out += "Table: Links\nLocal IP\tRemote IP\tHyst.\tLQ\tNLQ\tCost\n";
    for (const Node* n : net.neighbours())
      out += net.self + "\t" + n->address + "\t0.000\t" +
             (n->symmetric ? "1.000\t1.000\t1.000" : "0.250\t0.000\tINFINITE") + "\n";
    out += "\n";
  }
  if (what & kRoutes) {
    out += "Table: Routes\nDestination\tGateway IP\tMetric\tETX\tInterface\n";
    auto route = [&](const std::string& prefix, const Node& n) {
      out += prefix + "\t" + n.next_hop + "\t" + std::to_string(n.hops) + "\t" + fmt3(n.hops) +
             "\t" + net.interface + "\t\n";
    };
    for (const Node* n : net.reachable()) route(n->address + (n->v6 ? "/128" : "/32"), *n);
    for (const Node* n : net.reachable())
      for (const auto& p : n->hna) route(p.text(), *n);
    out += "\n";
  }
  if (what & kHna) {
    out += "Table: HNA\nDestination\tGateway\n";
    for (const auto& p : net.own_hna) out += p.text() + "\t" + net.self + "\n";
    for (const Node* n : with_hna(net))
      for (const auto& p : n->hna) out += p.text() + "\t" + n->address + "\n";
    out += "\n";
  }
  if (what & kMid) out += "Table: MID\nIP address\t(Alias)+\n\n";
  if (what & kTopology) {
    out += "Table: Topology\nDest. IP\tLast hop IP\tLQ\tNLQ\tCost\n";
    for (const Edge& e : edges(net)) out += *e.to + "\t" + *e.from + "\t1.000\t1.000\t1.000\n";
    out += "\n";
  }
  if (what & kGateways) {
    char head[160];
    std::snprintf(head, sizeof head, "%-6s %-45s %-15s %-6s %-9s %-9s %-7s %-4s %s\n", "Status",
                  "Gateway IP", "ETX", "Hopcnt", "Uplink", "Downlnk", "IPv4", "IPv6", "Prefix");
    out += std::string("Table: Gateways\n") + head + "\n";
  }
  if (what & kTwoHop) out += txt_neighbors(net, true);
  if (what & kVersion) out += "Version: olsr.org - 0.9.8-mnigs-test (built for tests)\n\n";
  return out;
}

// ------------------------------------------------------------------ requests

std::string http_header(Info which, unsigned status, const char* reason, const char* mime,
                        std::size_t length) {
  char date[64];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&now));
  std::string len = std::to_string(length);
  // lib/info/http_headers.c reserves 12 characters for the length.
  len += std::string(len.size() < 12 ? 12 - len.size() : 0, ' ');
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nDate: " + date +
         "\r\nServer: OLSRD " + (which == Info::jsoninfo ? "jsoninfo" : "txtinfo") +
         "\r\nConnection: close\r\n" + (mime ? std::string("Content-Type: ") + mime + "\r\n" : "") +
         "Access-Control-Allow-Origin: *\r\n"
         "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
         "Access-Control-Allow-Headers: Accept, Origin, X-Requested-With\r\n"
         "Access-Control-Max-Age: 1728000\r\n"
         "Content-Length: " +
         len +
         "\r\n"
         "Cache-Control: no-cache\r\n\r\n";
}

bool space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

void trim(std::string& s) {
  while (!s.empty() && space(s.back())) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && space(s[i])) ++i;
  s.erase(0, i);
}

void skip_multiple_slashes(std::string& s) {
  while (s.size() >= 2 && s[0] == '/' && s[1] == '/') s.erase(0, 1);
}

// parseRequest() of olsrd_info.c: "GET <uri> HTTP/1.[01]" means headers.
bool strip_http_get(std::string& req) {
  std::size_t n = req.size();
  if (n < 14 || strncasecmp(req.c_str(), "GET", 3) != 0 || !space(req[3]) || !space(req[n - 9]) ||
      strncasecmp(&req[n - 8], "HTTP/1.", 7) != 0 || (req[n - 1] != '0' && req[n - 1] != '1'))
    return false;
  req = req.substr(4, n - 4 - 9);
  return true;
}

// checkCommandPrefixes(): "/http..." forces headers, "/plain..." drops them.
void command_prefixes(std::string& req, bool& headers) {
  for (auto [prefix, value] : {std::pair<const char*, bool>{"/http", true}, {"/plain", false}}) {
    std::size_t l = std::char_traits<char>::length(prefix);
    if (strncasecmp(req.c_str(), prefix, l) == 0 && (req.size() == l || req[l] == '/')) {
      req.erase(0, l);
      headers = value;
      return;
    }
  }
}

// determine_action(): every '/'-separated command must be known.
unsigned tables_for(Info which, const std::string& req) {
  unsigned what = 0;
  std::size_t pos = 0;
  while (pos < req.size()) {
    while (pos + 1 < req.size() && req[pos] == '/' && req[pos + 1] == '/') ++pos;
    std::size_t next = req.find('/', pos + 1);
    std::string segment =
        req.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    unsigned found = 0;
    for (const auto& [name, bits] : commands(which))
      if (segment == name) found = bits;
    if (!found) return 0;
    what |= found;
    if (next == std::string::npos) break;
    pos = next;
  }
  return what;
}

void apply_fault(std::string& body, Fault fault, Info which) {
  if (fault == Fault::truncated) {
    body.resize(body.size() / 2);
  } else if (fault == Fault::garbage) {
    if (which == Info::jsoninfo) {
      body = "{\"neighbors\": [{\"ipAddress\": \x01\x02\x03 this is not JSON }}}\n";
    } else {
      // A junk line after every data row of every table.
      std::string out;
      std::size_t start = 0;
      int state = 0;  // 0: between tables, 1: title line expected, 2: rows
      while (start < body.size()) {
        std::size_t eol = body.find('\n', start);
        std::string line =
            body.substr(start, eol == std::string::npos ? std::string::npos : eol - start);
        out += line + "\n";
        if (line.rfind("Table: ", 0) == 0)
          state = 1;
        else if (line.empty())
          state = 0;
        else if (state == 1)
          state = 2;
        else if (state == 2)
          out += "\x01\x7f garbage\t\tYES\t999.1.1.1\n";
        if (eol == std::string::npos) break;
        start = eol + 1;
      }
      body = out;
    }
  }
}

}  // namespace

std::string info_reply(Info which, std::string_view request, bool timed_out, const Network& net,
                       const Options& options) {
  bool headers = options.http_headers;
  unsigned status = 200;
  const char* reason = "OK";
  unsigned what = 0;
  if (timed_out) {
    status = 408;
    reason = "Request Timeout";
  } else {
    std::string req(request.substr(0, 1024));
    req = req.substr(0, req.find_first_of("\r\n"));  // cutAtFirstEOL
    trim(req);
    if (strip_http_get(req)) headers = true;
    trim(req);
    while (!req.empty() && req.back() == '/') req.pop_back();
    trim(req);
    skip_multiple_slashes(req);
    command_prefixes(req, headers);
    skip_multiple_slashes(req);
    what = req.empty() || req == "/"
               ? (which == Info::jsoninfo ? kAll : kAll & ~(kConfig | kPlugins))
               : tables_for(which, req);
    if (!what) {
      status = 404;
      reason = "Not Found";
    }
  }

  std::string body;
  if (status == 200) {
    body = which == Info::jsoninfo ? jsoninfo_body(net, what) : txtinfo_body(net, what);
  } else if (!headers) {
    // output_error(): only without headers does the body say what went wrong.
    std::string text = std::to_string(status) + " " + reason;
    body = which == Info::jsoninfo
               ? Obj().num("pid", ::getpid())
                         .num("systemTime", std::time(nullptr))
                         .num("timeSinceStartup", 3612345)
                         .str("configurationChecksum", "0000000000000000000000000000000000000000")
                         .str("error", text)
                         .text() +
                     "\n"
               : "error: " + text + "\n";
  }
  const char* mime =
      which == Info::jsoninfo ? "application/vnd.api+json" : "text/plain; charset=utf-8";
  std::size_t length = body.size();
  apply_fault(body, options.fault, which);
  return (headers ? http_header(which, status, reason, mime, length) : std::string()) + body;
}

// ------------------------------------------------------------------ olsrd2

namespace {

// The viewer tables of current OONF, with their keys in template order
// (src/nhdp/nhdpinfo/nhdpinfo.c, src/olsrv2/olsrv2info/olsrv2info.c).
struct ViewerTable {
  std::string viewer, table;
  std::vector<std::string> keys;
};

const std::vector<ViewerTable>& viewer_tables() {
  static const std::vector<ViewerTable> tables = {
      {"nhdpinfo",
       "neighbor",
       {"neighbor_originator", "neighbor_dualstack", "neighbor_symmetric", "neighbor_linkcount",
        "domain", "domain_metric", "domain_metric_in", "domain_metric_in_raw", "domain_metric_out",
        "domain_metric_out_raw", "domain_mpr", "domain_mpr_local", "domain_mpr_remote",
        "domain_mpr_willingness"}},
      {"olsrv2info", "node", {"node", "node_ansn", "node_vtime", "node_virtual", "node_neighbor"}},
      {"olsrv2info",
       "attached_network",
       {"node", "attached_net", "attached_net_src", "attached_net_ansn", "domain", "domain_metric",
        "domain_metric_out", "domain_metric_out_raw", "domain_distance"}},
      {"olsrv2info",
       "edge",
       {"node", "edge", "edge_ansn", "domain", "domain_metric", "domain_metric_out",
        "domain_metric_out_raw"}},
      {"olsrv2info",
       "route",
       {"route_dst", "route_gw", "route_src_ip", "route_src_prefix", "route_metric", "route_table",
        "route_proto", "route_if", "route_ifindex", "route_lasthop", "domain", "domain_metric",
        "domain_metric_out", "domain_metric_out_raw", "domain_path_hops"}},
  };
  return tables;
}

const ViewerTable* find_table(const std::string& viewer, const std::string& table) {
  for (const auto& t : viewer_tables())
    if (t.viewer == viewer && t.table == table) return &t;
  return nullptr;
}

using Values = std::vector<std::string>;  // in the order of the table's keys

std::vector<Values> viewer_rows(const Network& net, const std::string& table) {
  std::vector<Values> rows;
  const std::string metric = "ff_dat_metric", rate = "24.1Mbit/s", raw = "2390";
  if (table == "neighbor") {
    for (const Node* n : net.neighbours())
      rows.push_back({n->address, n->dualstack.empty() ? "-" : n->dualstack,
                      n->symmetric ? "true" : "false", n->symmetric ? "1" : "0", "0", metric, rate,
                      raw, rate, raw, "ff_olsrv2", "false", "false", "7"});
  } else if (table == "node") {
    for (const Node* n : net.reachable())
      rows.push_back({n->address, "17", "287.512", "false", n->hops == 1 ? "true" : "false"});
  } else if (table == "attached_network") {
    for (const Node* n : net.reachable())
      for (const auto& p : n->hna)
        rows.push_back({n->address, p.text(), "-", "17", "0", metric, rate, raw, "1"});
  } else if (table == "edge") {
    // The local node sends no TC to itself: its own links are not edges here.
    for (const Edge& e : edges(net))
      if (*e.from != net.self) rows.push_back({*e.from, *e.to, "17", "0", metric, rate, raw});
  } else if (table == "route") {
    auto route = [&](const std::string& dst, const Node& n) {
      std::string cost = std::to_string(2390 * n.hops);
      rows.push_back({dst, n.next_hop, net.self, "-", cost, "254", "100", net.interface, "3",
                      n.via == net.self ? n.address : n.via, "0", metric, rate, cost,
                      std::to_string(n.hops)});
    };
    for (const Node* n : net.reachable()) route(n->address, *n);
    for (const Node* n : net.reachable())
      for (const auto& p : n->hna) route(p.text(), *n);
  }
  return rows;
}

std::string join_tabs(const std::vector<std::string>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "\t" : "") + v[i];
  return out;
}

// oonf_viewer_call_subcommands() with its text formats: "head <table>"
// (the keys), "<table>" (the values), "<table> <template>" (%key% replaced).
std::string viewer(const Network& net, const std::string& cmd, const std::string& param,
                   Fault fault) {
  std::string out;
  if (param.empty()) out += "Error, '" + cmd + "' command needs a parameter\n";
  std::string rest = param;
  bool head = false;
  if (rest.rfind("head ", 0) == 0) {
    head = true;
    rest.erase(0, 5);
  }
  std::string table = rest.substr(0, rest.find(' '));
  std::string tmpl = rest.find(' ') == std::string::npos ? "" : rest.substr(rest.find(' ') + 1);
  const ViewerTable* t = find_table(cmd, table);
  if (!t) return out + "Unknown parameter for command '" + cmd + "': " + param + "\n";
  if (head) return out + join_tabs(t->keys) + "\n";
  for (const auto& values : viewer_rows(net, table)) {
    std::string line = tmpl.empty() ? join_tabs(values) : tmpl;
    if (!tmpl.empty())
      for (std::size_t i = 0; i < t->keys.size(); ++i) {
        std::string key = "%" + t->keys[i] + "%";
        for (auto at = line.find(key); at != std::string::npos;
             at = line.find(key, at + values[i].size()))
          line.replace(at, key.size(), values[i]);
      }
    out += line + "\n";
    if (fault == Fault::garbage) out += "\x01\x7f garbage\tline\n";
  }
  return out;
}

}  // namespace

std::string TelnetSession::command(const std::string& cmd, const std::string& param, bool& quit) {
  if (cmd == "quit" || cmd == "exit") {
    quit = true;
    return "";
  }
  if (cmd == "echo") return param + "\n";
  if (cmd == "help")
    return "Known commands:\n  echo\n  exit\n  help\n  nhdpinfo\n  olsrv2info\n  quit\n";
  if (cmd == "nhdpinfo" || cmd == "olsrv2info") return viewer(net_, cmd, param, options_.fault);
  return "Error, unknown command '" + cmd + "'\n";
}

// _cb_telnet_receive_data(): a line starting with '/' is a chain of commands
// separated by '/', run without prompts, after which the session ends;
// other lines are single commands, each followed by an empty line, with a
// "> " prompt once the input is handled.
TelnetSession::Output TelnetSession::feed(std::string_view data) {
  pending_.append(data);
  Output out;
  bool processed = false;
  std::size_t eol;
  while ((eol = pending_.find('\n')) != std::string::npos) {
    std::string line = pending_.substr(0, eol);
    pending_.erase(0, eol + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    processed = true;
    bool chain = !line.empty() && line[0] == '/';
    std::string rest = chain ? line.substr(1) : line;
    bool quit = false;
    while (true) {
      std::string cmd = rest;
      std::string next;
      bool more = false;
      if (chain) {
        if (!cmd.empty() && cmd[0] == '/') {  // "//": single command and auto-quit
          cmd.erase(0, 1);
        } else if (auto slash = cmd.find('/'); slash != std::string::npos) {
          next = cmd.substr(slash + 1);
          cmd = cmd.substr(0, slash);
          more = true;
        }
      }
      std::string param;
      if (auto sp = cmd.find(' '); sp != std::string::npos) {
        param = cmd.substr(sp + 1);
        cmd = cmd.substr(0, sp);
      }
      if (!cmd.empty()) {
        out.text += command(cmd, param, quit);
        if (quit) {
          out.close = true;
          break;
        }
        if (!chain) out.text += "\n";
      }
      if (!more) break;
      rest = next;
    }
    if (chain || quit) {
      out.close = true;
      break;
    }
  }
  if (options_.fault == Fault::truncated && out.close) out.text.resize(out.text.size() / 2);
  if (processed && !out.close) out.text += "> ";
  return out;
}

}  // namespace olsrd_peer
