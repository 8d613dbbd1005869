// The one check of network interface names that come from config keys, RPC
// parameters and the output of ip(8). Pure; thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace mnigs {

// The kernel's rule (dev_valid_name): 1 to 15 bytes (IFNAMSIZ - 1), not "."
// or "..", no '/', ':', white space or NUL; and no '%', which the kernel
// reads as a template ("tun%d" becomes tun0), so no interface has it.
bool valid_interface_name(std::string_view name);

// A valid name that can also be written between double quotes in an nft
// rule ("oifname \"eth1\""): printable ASCII only, and no '"' or '\' (nft
// strings have no escapes).
bool nft_quotable_interface_name(std::string_view name);

// The n-th (0-based) of a numbered set of devices (a tunnel plugin's, one
// per session): `base` itself, then its trailing number counted up (mnws0,
// mnws1, ...), or 1, 2, ... appended when it ends in none (tun, tun1, ...).
std::string uplink_interface(const std::string& base, unsigned n);

// The first of the `count` devices uplink_interface(base, 0..count-1) for
// which `taken` is false; "" when every one is taken.
std::string free_uplink_interface(const std::string& base, unsigned count,
                                  const std::function<bool(const std::string&)>& taken);
// Whether `name` is one of those `count` devices.
bool is_uplink_interface(const std::string& base, unsigned count, const std::string& name);

}  // namespace mnigs
