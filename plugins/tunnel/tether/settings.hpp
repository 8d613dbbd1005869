// tunnel/tether's keys (section "tether"), read and checked.
#pragma once

#include <json/value.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mnigs/config_decl.hpp>
#include <optional>
#include <string>

namespace mnigs::tether {

struct Settings {
  bool enabled = false;
  // Where the page and its WebSocket are served: an IP literal (a
  // link-local IPv6 one with its %interface) and a port.
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 6354;
  // The gateway's RPC port as ADDRESS:PORT ("[fd00::1]:65533"); "" when the
  // page is to ask for it.
  std::string gateway;
  std::string interface = "mntether0";
  // The device hands over TCP segments of up to 64 KiB (TSO/GSO), each one
  // message to the page; off, one message per packet (bench/README.md).
  bool offload = true;
  std::int64_t table = 65527;
  int priority = 31060;
  std::chrono::seconds keepalive{10};  // a ping to the page after this much silence
  std::chrono::seconds timeout{30};    // the page is gone after this much silence
  std::size_t max_queue = 1u << 20;    // bytes waiting for the page
};

void declare(ConfigDeclarer& d);
// The section as the host validated it; nullopt and `why` for what the host
// cannot check (the addresses).
std::optional<Settings> read_settings(const Json::Value& section, std::string* why);

// "10.0.0.1" → "10.0.0.1:65533", "[fd00::1]:7000" as it is; nullopt and
// `why` for anything but an IP literal with an optional port.
std::optional<std::string> normalize_gateway(const std::string& text, std::string* why);

}  // namespace mnigs::tether
