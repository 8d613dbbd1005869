// HTTP connections that switch protocols (WebSocket and the like), handed
// from the daemon's HTTP front end to the plugin that registered the path.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace mnigs {

// One request with an `Upgrade` header on a path a plugin registered, with
// its connection. The HTTP server has answered nothing: the handler writes
// the response (101, or an error) itself.
struct HttpUpgrade {
  std::string method;  // "GET"
  std::string target;  // as requested, query included: "/ws/websocket?x=1"
  std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
  std::string remote_address;    // the caller's IP, as text (IPv4-mapped IPv6 unmapped)
  std::uint16_t remote_port = 0;
  std::string local_address;     // this node's address the caller reached
  bool admin = false;            // passed the admin check (token or daemon.authorizedNetworks)
  // The connected TCP socket, non-blocking. The handler owns it and must
  // close it; -1 after it has been taken.
  int fd = -1;
  std::string pending;  // bytes that arrived after the request's headers
};

// Called on the registering plugin's strand.
using UpgradeHandler = std::function<void(HttpUpgrade request)>;

}  // namespace mnigs
