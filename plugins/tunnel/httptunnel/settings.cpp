#include "settings.hpp"

#include <algorithm>

#include "util/host_port.hpp"
#include "wstunnel.hpp"

namespace mnigs::httptunnel {

void declare(ConfigDeclarer& d) {
  d.declare(list_key("listen", ValueType::string_list, {},
                     "Gateway: ADDRESS:PORT list of the public front that HTTP clients reach "
                     "(e.g. 0.0.0.0:8080); empty: this node serves no HTTP tunnels"));
  d.declare(string_key("domain", "",
                       "Gateway: the domain of named services, reached as "
                       "<service>.<id>.<domain>; empty: by token only"));
  d.declare(int_key("timeout", 1200, 1, 86400,
                    "Gateway: seconds a request waits for its tunnel and its answer before "
                    "504 (WStunnel's -httptimeout)",
                    true));
  d.declare(int_key("pingTimeout", 30, 3, 600,
                    "Seconds without a ping after which a tunnel is dropped; nodes ping every "
                    "third of it (WStunnel's -wstimeout, -timeout)",
                    true));
  d.declare(int_key("queue", 20, 1, 10000,
                    "Gateway: requests that may wait for one token or id while its tunnel is "
                    "down; more get 504",
                    true));
  d.declare(string_key("policy", "failover",
                       "Gateway: when a second node holds a token or id (same secret): reject "
                       "it, keep it as failover, or balance requests",
                       true, {"reject", "failover", "balance"}));
  d.declare(bool_key("wstunnelClients", true,
                     "Gateway: accept WStunnel clients, which hold no secret (a token claimed "
                     "with a secret stays refused to them)",
                     true));
  d.declare(list_key("gateways", ValueType::string_list, {},
                     "Node: gateways' ADDRESS:PORT (their mnigsd port) to keep tunnels to; "
                     "empty: the best maxGateways of those whose offer says they serve HTTP "
                     "tunnels",
                     true));
  d.declare(int_key("maxGateways", 2, 1, 16,
                    "Node, with gateways empty: how many gateways found from offers to keep "
                    "tunnels to at once",
                    true));
  d.declare(string_key("token", "", "Node: the token HTTP clients name (WStunnel's -token)",
                       true));
  d.declare(string_key("server", "http://localhost:80",
                       "Node: where token requests go (WStunnel's -server)", true));
  d.declare(string_key("regexp", "",
                       "Node: X-Host values a token request may name instead of server "
                       "(WStunnel's -regexp); empty: X-Host refused",
                       true));
  d.declare(string_key("id", "", "Node: the id of its named services (mdm-tunnel's -id)",
                       true));
  d.declare(list_key("services", ValueType::string_list, {},
                     "Node: NAME=PORT list of named services on this node's loopback, e.g. "
                     "hello-world=9000",
                     true));
  d.declare(string_key("healthCheck", "",
                       "Node: a path each service (and the token backend) is asked for every "
                       "10 s, e.g. /health; one that does not answer within 5 s, or answers "
                       "5xx, gets 503 with Retry-After until it answers again; empty: no "
                       "checks",
                       true));
  d.declare(file_only(string_key("secretFile", "",
                                 "Node: file holding the secret that binds its token and id "
                                 "at gateways; empty: one made and kept by mnigsd")));
}

bool is_label(std::string_view text) {
  if (text.empty() || text.size() > 63 || text.front() == '-' || text.back() == '-')
    return false;
  for (const char c : text)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

std::optional<Service> parse_service(const std::string& text, std::string* why) {
  const auto eq = text.find('=');
  const auto fail = [&](const std::string& what) -> std::optional<Service> {
    if (why) *why = "\"" + text + "\" " + what + " (write NAME=PORT, e.g. hello-world=9000)";
    return std::nullopt;
  };
  if (eq == std::string::npos) return fail("has no '='");
  const std::string name = text.substr(0, eq), port = text.substr(eq + 1);
  if (!is_label(name))
    return fail("has a name that is not 1-63 lowercase letters, digits or '-'");
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos)
    return fail("has a port that is not a number");
  const int p = std::stoi(port);
  if (p < 1 || p > 65535) return fail("has a port that is not 1..65535");
  return Service{name, static_cast<std::uint16_t>(p)};
}

namespace {

bool read_endpoints(const Json::Value& list, const char* key, std::vector<Endpoint>& out,
                    std::string* why) {
  for (const auto& v : list) {
    std::string bad;
    auto hp = parse_host_port(v.asString(), HostPortRules{}, &bad);
    if (!hp) {
      if (why) *why = std::string("httptunnel.") + key + ": " + bad;
      return false;
    }
    out.push_back({hp->host, hp->port});
  }
  return true;
}

}  // namespace

std::optional<Settings> read_settings(const Json::Value& c, std::string* why) {
  Settings s;
  if (!read_endpoints(c["listen"], "listen", s.listen, why)) return std::nullopt;
  if (!read_endpoints(c["gateways"], "gateways", s.gateways, why)) return std::nullopt;
  s.domain = c["domain"].asString();
  if (!s.domain.empty()) {
    // Dot-separated labels, as a Host header would carry them.
    std::string_view rest = s.domain;
    while (true) {
      const auto dot = rest.find('.');
      if (!is_label(rest.substr(0, dot))) {
        if (why)
          *why = "httptunnel.domain \"" + s.domain +
                 "\" is not a domain name of lowercase labels (e.g. tunnel.example.net)";
        return std::nullopt;
      }
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    // The offer announces http://<domain>:<port>/ in at most 96 characters.
    if (s.domain.size() > 80) {
      if (why) *why = "httptunnel.domain is longer than 80 characters";
      return std::nullopt;
    }
  }
  s.timeout = std::chrono::seconds(c["timeout"].asInt());
  s.ping_timeout = std::chrono::seconds(c["pingTimeout"].asInt());
  s.queue = static_cast<std::size_t>(c["queue"].asInt());
  s.max_gateways = static_cast<std::size_t>(c["maxGateways"].asInt());
  s.health_check = c["healthCheck"].asString();
  if (!s.health_check.empty() &&
      (s.health_check.front() != '/' || s.health_check.size() > 1024 ||
       !std::all_of(s.health_check.begin(), s.health_check.end(), [](char ch) {
         return static_cast<unsigned char>(ch) > 0x20 && static_cast<unsigned char>(ch) < 0x7f;
       }))) {
    if (why)
      *why = "httptunnel.healthCheck \"" + s.health_check +
             "\" is not a path (it starts with / and holds printable characters, no spaces)";
    return std::nullopt;
  }
  const std::string policy = c["policy"].asString();
  s.policy = policy == "reject" ? Policy::reject
             : policy == "balance" ? Policy::balance
                                   : Policy::failover;
  s.wstunnel_clients = c["wstunnelClients"].asBool();
  s.token = c["token"].asString();
  if (!s.token.empty())
    if (const auto r = wstunnel::check_token(s.token)) {
      if (why) *why = "httptunnel.token: " + r.body.substr(0, r.body.size() - 1);
      return std::nullopt;
    }
  s.server = c["server"].asString();
  if (!s.server.empty() && !s.server.starts_with("http://")) {
    if (why)
      *why = "httptunnel.server \"" + s.server + "\" must be an http:// URL (e.g. " +
             "http://localhost:80)";
    return std::nullopt;
  }
  s.regexp_text = c["regexp"].asString();
  if (!s.regexp_text.empty()) {
    try {
      s.regexp.emplace(s.regexp_text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      if (why) *why = "httptunnel.regexp \"" + s.regexp_text + "\" is not a regexp: " + e.what();
      return std::nullopt;
    }
  }
  s.id = c["id"].asString();
  if (!s.id.empty() && !is_label(s.id)) {
    if (why)
      *why = "httptunnel.id \"" + s.id + "\" must be 1-63 lowercase letters, digits or '-'";
    return std::nullopt;
  }
  for (const auto& v : c["services"]) {
    auto svc = parse_service(v.asString(), why);
    if (!svc) {
      if (why) *why = "httptunnel.services: " + *why;
      return std::nullopt;
    }
    for (const auto& other : s.services)
      if (other.name == svc->name) {
        if (why) *why = "httptunnel.services names \"" + svc->name + "\" twice";
        return std::nullopt;
      }
    s.services.push_back(*svc);
  }
  if (!s.services.empty() && s.id.empty()) {
    if (why) *why = "httptunnel.services needs httptunnel.id (the name gateways route by)";
    return std::nullopt;
  }
  s.secret_file = c["secretFile"].asString();
  return s;
}

}  // namespace mnigs::httptunnel
