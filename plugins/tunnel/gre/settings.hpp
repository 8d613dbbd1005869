// The config section of tunnel/gre (`gre`) and of its IP-in-IP twin
// (`ipip`): the same keys with their own defaults. See README.md.
//
// Pure functions; thread-safe.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <mnigs/config_decl.hpp>
#include <optional>
#include <string>

#include "encap.hpp"
#include "tunnel_settings.hpp"

namespace mnigs::gre {

enum class Mode { auto_, kernel, userspace };
const char* to_string(Mode mode);

// Pools, device names, uplink, table and priority: tunnel_settings.hpp.
struct Settings : tunnels::TunnelSettings {
  Encap encap = Encap::gre;
  Mode mode = Mode::auto_;
  int mtu = 0;  // 0: the mesh interface's MTU less the encapsulation
};

// The defaults of each: the two may run side by side, so their pools,
// devices, tables and rule priorities differ.
Settings defaults(Encap encap);
// The section's name: "gre" or "ipip".
const char* section(Encap encap);

void declare_keys(ConfigDeclarer& declarer, Encap encap);

// Reads the section (types already checked by the core) and applies the
// checks a declaration cannot express. nullopt with `why` naming the key,
// the value and what is allowed.
std::optional<Settings> parse_settings(const Json::Value& section, Encap encap, std::string* why);

// The subscriber holds one device per connected session, at most this many.
inline constexpr unsigned kMaxUplinks = 4;

}  // namespace mnigs::gre
