// The gateways a node keeps links to when httptunnel.gateways is empty:
// those this node knows (PluginContext::gateways, from scans and the DHT)
// that announce HTTP tunnels in their offer ("services": {"httptunnel":
// ...}), best first.
#pragma once

#include "settings.hpp"

#include <json/value.h>

#include <cstddef>
#include <vector>

namespace mnigs::httptunnel {

// The service name gateways announce ("services" in nodeInfo and offers).
inline constexpr char kServiceName[] = "httptunnel";

// At most `most` distinct gateways of `list` (listGateways' array) whose
// "services" name httptunnel and that have an IP address and a port: those
// a scan reached first (an offer alone anyone may publish), those the
// latest scan or a live offer saw next, then the lower test score, then by
// address (so that the choice is stable).
// Anything malformed in an entry leaves that entry out.
std::vector<Endpoint> choose_gateways(const Json::Value& list, std::size_t most);

// The gateways to keep links to, `most` at the outside: first those linked
// now that still announce tunnels (in `ranked`, choose_gateways' order)
// and are not `failing` (their links down for a while), so that a new
// ranking cuts no link in use; then the best of the rest of `ranked`.
std::vector<Endpoint> keep_or_choose(const std::vector<Endpoint>& ranked,
                                     const std::vector<Endpoint>& linked,
                                     const std::vector<Endpoint>& failing, std::size_t most);

}  // namespace mnigs::httptunnel
