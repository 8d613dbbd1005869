// The core's config keys. conf/mnigs.yaml documents the same keys; the
// config unit test checks that the two agree.
#include "config/schema.hpp"

namespace mnigs {

void declare_core_keys(Schema& schema) {
  schema.add_section("main", "core", "This node", [](ConfigDeclarer& d) {
    d.declare(string_key("name", "", "Name shown to other nodes; empty uses the host name", true));
  });
  schema.add_section(
      "daemon", "core", "The mnigsd process and its RPC port", [](ConfigDeclarer& d) {
        d.declare(typed_key("listenIpv4", ValueType::address, "0.0.0.0",
                            "IPv4 address the RPC and web UI listen on; \"\" disables IPv4"));
        d.declare(typed_key("listenIpv6", ValueType::address,
                            "::", "IPv6 address the RPC and web UI listen on; \"\" disables IPv6"));
        d.declare(
            typed_key("rpcport", ValueType::port, 65533, "TCP port of JSON-RPC and the web UI"));
        d.declare(list_key("scanports", ValueType::port_list, {"65533"},
                           "Ports probed for nodeInfo when scanning the mesh", true));
        d.declare(list_key("authorizedNetworks", ValueType::cidr_list, {"127.0.0.0/8", "::1/128"},
                           "Callers from these prefixes may use admin methods without the token",
                           true));
        d.declare(file_only(string_key(
            "dataDir", "/var/lib/mnigs",
            "Directory for the database, the admin token and other state")));
        d.declare(file_only(string_key(
            "webuiDir", MNIGS_DEFAULT_WEBUI_DIR,
            "Directory of the web UI's static files; \"\" disables the web UI")));
        d.declare(string_key("logLevel", "info", "Least severe log level written to stderr", true,
                             {"error", "warn", "info", "debug"}));
        d.declare(int_key("threads", 1, 1, 64, "Threads running the event loop"));
        d.declare(int_key("rpcMaxBodyBytes", 64 << 10, 1024, 64 << 20,
                          "Largest JSON-RPC request body accepted, in bytes; every open "
                          "connection may hold one", true));
        d.declare(int_key("rpcTimeout", 30, 1, 3600,
                          "Seconds a client may take to send a request or stay idle", true));
        d.declare(int_key("rpcMaxClients", 256, 1, 65536,
                          "Concurrent RPC connections; more are closed at once. The last "
                          "quarter (at most 16) is kept for 127.0.0.1 and ::1", true));
        d.declare(int_key("rpcMaxClientsPerSource", 16, 1, 65536,
                          "Concurrent RPC connections from one address (IPv6: one /64); "
                          "127.0.0.1 and ::1 are not limited", true));
        d.declare(int_key("rpcEvictAfter", 1, 0, 3600,
                          "When every RPC connection is taken, a newcomer from an address "
                          "holding fewer gets the place of a connection that has sent no "
                          "complete request for this many seconds, from the address holding "
                          "the most; 0: never", true));
        d.declare(list_key("rpcCorsOrigins", ValueType::cidr_list,
                           {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16",
                            "100.64.0.0/10", "fc00::/7"},
                           "Web pages served from these addresses (never from a name) may call "
                           "the mesh methods (CORS) and open the websocket tunnel with a "
                           "session's credentials: the tether page a subscriber's laptop "
                           "serves to a phone. Admin methods never answer them. Empty: no "
                           "page of another origin",
                           true));
        d.declare(int_key("webuiLoginIdle", 3600, 60, 86400,
                          "Seconds a web UI login (password or admin token, from outside "
                          "authorizedNetworks) lasts without use",
                          true));
        d.declare(int_key("webuiLoginMax", 43200, 300, 604800,
                          "Seconds a web UI login lasts at most, used or not", true));
        d.declare(bool_key("webuiFrameSameHost", false,
                           "Let pages of the same host on its web ports (80, 443: OpenWrt's "
                           "LuCI) show the web UI in a frame; false: only the UI itself",
                           true));
        d.declare(int_key("hookTimeout", 10, 1, 600,
                          "Seconds a hook command may run before it is killed", true));
      });
  schema.add_section(
      "gateway", "core", "Serving Internet access to subscribers", [](ConfigDeclarer& d) {
        d.declare(bool_key("enabled", false, "Offer this node's uplink to subscribers", true));
        d.declare(
            int_key("maxConnections", 10, 1, 100000, "Subscriber sessions served at once", true));
        d.declare(int_key("subscriberTimeout", 300, 5, 86400,
                          "Seconds a session lives unless the subscriber renews it", true));
        d.declare(
            file_only(string_key("onRegister", "",
                                 "Command run (sh -c) when a subscriber gets a session; details in "
                                 "MNIGS_* variables")));
        d.declare(file_only(string_key(
            "onRelease", "", "Command run when a session ends (released or expired)")));
        d.declare(list_key("uplinkCheck", ValueType::string_list, {},
                           "HOST:PORT targets beyond the uplink, each reached by a TCP connection "
                           "every uplinkInterval; when none answers twice in a row the gateway "
                           "withdraws its offer until they answer again for uplinkStable "
                           "seconds. Empty: not checked",
                           true));
        d.declare(int_key("uplinkInterval", 400, 200, 60000,
                          "Milliseconds between uplink checks (and each check's deadline)", true));
        d.declare(int_key("uplinkStable", 10, 0, 3600,
                          "Seconds the uplink must answer before the offer is made again", true));
        d.declare(list_key("payments", ValueType::string_list, {"free"},
                           "Payment methods this gateway offers, most preferred first; each "
                           "needs its payment plugin (free, webpage)",
                           true));
        d.declare(list_key("tunnels", ValueType::string_list,
                           {"forwarding", "websocket", "gre", "ipip", "openvpn", "cjdns"},
                           "Tunnel methods in this gateway's order of preference: its suites "
                           "are listed in this order, and a subscriber that names no suite "
                           "takes the first it shares; running tunnels not listed follow in "
                           "alphabetical order",
                           true));
        d.declare(list_key("uplinks", ValueType::string_list, {},
                           "Interfaces towards the Internet: what sessions send out of them "
                           "and get in from them is metered, limited and charged; empty: the "
                           "interfaces of the main table's default routes (without any, all "
                           "that is forwarded)",
                           true));
        d.declare(int_key("meterInterval", 5, 1, 300,
                          "Seconds between readings of the sessions' byte counters; what a "
                          "kill -9 together with nft flush ruleset can lose is what went "
                          "through in that time",
                          true));
        d.declare(int_key("throttleKbit", 0, 0, 1000000,
                          "When a session's vouchers have no bytes left: 0 cuts it off (back to "
                          "the payment page), more lets it go on at this many kbit/s each way",
                          true));
      });
  schema.add_section("subscriber", "core", "Using a gateway", [](ConfigDeclarer& d) {
    d.declare(string_key("routing", "default",
                         "\"default\": move the default route into the tunnel; \"none\": "
                         "bring the tunnel up and leave routes alone",
                         true, {"default", "none"}));
    d.declare(
        file_only(string_key("onConnect", "", "Command run (sh -c) when the tunnel is up")));
    d.declare(file_only(string_key(
        "onDisconnect", "", "Command run when the connection ends, with MNIGS_REASON")));
    d.declare(file_only(string_key(
        "onPaymentRequired", "",
        "Command run when the gateway waits for payment before traffic goes through, with "
        "MNIGS_PAYMENT_URL (its payment page), MNIGS_GATEWAY and MNIGS_SESSION_ID")));
    d.declare(file_only(string_key(
        "onSwitch", "",
        "Command run when auto mode moves to another gateway, with MNIGS_FROM, MNIGS_TO and "
        "MNIGS_REASON")));
    d.declare(bool_key("auto", false,
                       "Auto mode: choose the best gateway, connect, and move to another when it "
                       "fails, with no one at the keyboard; a manual connect pins its gateway "
                       "until auto mode is turned on again (mnigs-cli --auto on)",
                       true));
    d.declare(int_key("maxPrice", 0, 0, 1000000000,
                      "Auto mode: the highest price (in the gateway's currency units) it accepts; "
                      "0: free gateways only",
                      true));
    d.declare(list_key("prefer", ValueType::string_list, {},
                       "Auto mode: gateways (address or name) chosen before all others, in this "
                       "order, while they work",
                       true));
    d.declare(list_key("avoid", ValueType::string_list, {},
                       "Auto mode: gateways (address or name) never chosen", true));
    d.declare(int_key("probeInterval", 200, 50, 10000,
                      "Milliseconds between health probes through the tunnel (from the next "
                      "connection on)",
                      true));
    d.declare(int_key("downAfter", 1000, 150, 60000,
                      "Milliseconds without an answer to probes after which the gateway is "
                      "down (at least 3 probe intervals are waited)",
                      true));
    d.declare(list_key("checkTargets", ValueType::string_list, {},
                       "Targets beyond the gateway checked through the tunnel: http://HOST/PATH "
                       "(a redirect or 511 is a captive portal), https://HOST, HOST:PORT, or a "
                       "DNS name; none reachable twice in a row while the gateway answers probes "
                       "means it has no Internet",
                       true));
    d.declare(int_key("checkInterval", 10, 1, 3600,
                      "Seconds between checks of subscriber.checkTargets while connected", true));
    d.declare(int_key("holdDown", 30, 0, 3600,
                      "Seconds auto mode leaves a gateway out after it failed or was left", true));
    d.declare(int_key("standby", 1, 0, 1,
                      "Auto mode: gateways kept ready beside the active one (a session, the "
                      "tunnel up, probed once a second), so that a switch is one routing "
                      "change; only through tunnels that support it (forwarding)",
                      true));
    d.declare(int_key("switchAfter", 30, 5, 3600,
                      "Auto mode: seconds the standby must be clearly better than the active "
                      "gateway (before it on subscriber.prefer, or a score 20 % lower), up and "
                      "losing at most 5 % of its probes, before auto mode moves to it; so a "
                      "gateway that failed is taken back only once it is stable",
                      true));
    d.declare(list_key("lan", ValueType::cidr_list, {},
                       "Networks behind this node (its LAN) that share the gateway: their "
                       "traffic to anywhere outside them is masqueraded, forwarding is turned "
                       "on, and at a switch their connections through the old gateway are "
                       "deleted from conntrack",
                       true));
  });
  schema.add_section("scan", "core", "Finding nodes and gateways on the mesh", [](ConfigDeclarer& d) {
    d.declare(int_key("interval", 600, 0, 86400,
                      "Seconds between background scans; 0 scans only when asked", true));
    d.declare(int_key("parallelism", 64, 1, 1024, "Probes in flight at once", true));
    d.declare(int_key("timeout", 2000, 100, 60000,
                      "Milliseconds a node has to answer nodeInfo", true));
    d.declare(int_key("discoveryTimeout", 5000, 100, 60000,
                      "Milliseconds discovery plugins have to report their nodes", true));
    d.declare(int_key("forgetAfter", 86400, 60, 31536000,
                      "Seconds after which a node no scan has reached is forgotten", true));
  });
  schema.add_section("dht", "core", "Gateway offers spread through a DHT", [](ConfigDeclarer& d) {
    d.declare(bool_key("enabled", true,
                       "Join the mnigs DHT: publish this gateway's signed offer, hear others'"));
    d.declare(int_key("port", 65531, 1, 65535, "UDP port of the DHT node (IPv4 and IPv6)"));
    d.declare(list_key("bootstrap", ValueType::string_list, {},
                       "More nodes to join through: HOST, HOST:PORT or [IPv6]:PORT; nodes that "
                       "discovery and scans find are added by themselves"));
    d.declare(int_key("storageLimit", 4 << 20, 1 << 16, 64 << 20,
                      "Bytes of values the DHT node stores for other nodes"));
    d.declare(int_key("maxOffers", 1024, 16, 65536,
                      "Distinct gateways whose offers are kept; more are ignored until some "
                      "expire"));
  });
  schema.add_section("database", "core", "Where state is kept", [](ConfigDeclarer& d) {
    d.declare(file_only(string_key(
        "file", "mnigs.db", "SQLite database; a relative path is inside daemon.dataDir")));
  });
  schema.add_section("plugins", "core", "Loading plugins", [](ConfigDeclarer& d) {
    d.declare(
        file_only(string_key("dir", MNIGS_DEFAULT_PLUGIN_DIR, "Directory of plugin .so files")));
    d.declare(list_key("disabled", ValueType::string_list, {},
                       "Plugins not to load, by name (e.g. [static])"));
  });
}

}  // namespace mnigs
