// tunnel/httptunnel's keys (section "httptunnel"), read and checked. The
// gateway's keys serve tunnels (listen, domain, timeouts, the queue, the
// policy); the node's keys expose services through gateways (token mode as
// WStunnel's client flags, named services as mdm-tunnel's file).
#pragma once

#include <mnigs/config_decl.hpp>

#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <vector>

namespace mnigs::httptunnel {

// What happens when a second node connects with a token or id that a
// connected node holds (with the same secret: another secret is refused
// whatever the policy).
enum class Policy {
  reject,    // the second is refused while the first is connected
  failover,  // the second waits as a standby; requests go to the first
  balance,   // requests go to each in turn
};

struct Endpoint {
  std::string host;  // an IP literal, no brackets
  std::uint16_t port = 0;
};

struct Service {
  std::string name;  // a DNS label: 1-63 lowercase letters, digits, '-'
  std::uint16_t port = 0;  // on this node's loopback
};

struct Settings {
  // Gateway: where the public front listens; empty: this node serves no
  // tunnels.
  std::vector<Endpoint> listen;
  std::string domain;  // named services are <service>.<id>.<domain>; "" for none
  std::chrono::seconds timeout{1200};      // a request waits at most this long
  std::chrono::seconds ping_timeout{30};   // a tunnel silent this long is dropped
  std::size_t queue = 20;                  // requests waiting per token or id
  Policy policy = Policy::failover;
  bool wstunnel_clients = true;            // WStunnel clients (no secret) may connect

  // Node: gateways to connect to; empty: found from offers, at most
  // max_gateways of them.
  std::vector<Endpoint> gateways;
  std::size_t max_gateways = 2;
  std::string health_check;  // the path services are checked at; "" for none
  std::string token;                // token mode ("" for none)
  std::string server;               // token mode's backend, "http://localhost:80"
  std::optional<std::regex> regexp;  // which X-Host values are allowed
  std::string regexp_text;
  std::string id;                   // named services' id ("" for none)
  std::vector<Service> services;
  std::string secret_file;          // "" for a secret kept in the plugin's store
};

void declare(ConfigDeclarer& d);
// The section as the host validated it; nullopt and `why` for what the host
// cannot check (host:port lists, service names, the regexp).
std::optional<Settings> read_settings(const Json::Value& section, std::string* why);

// "hello-world=9000" → {"hello-world", 9000}; nullopt and `why` otherwise.
std::optional<Service> parse_service(const std::string& text, std::string* why);
// A DNS label of 1-63 lowercase letters, digits or '-', not starting or
// ending with '-'.
bool is_label(std::string_view text);

}  // namespace mnigs::httptunnel
