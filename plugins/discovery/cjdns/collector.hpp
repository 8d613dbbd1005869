// One discovery round against cjdroute: every page of NodeStore_dumpTable,
// then every page of InterfaceController_peerStats, each page asked for
// until a reply comes without "more". Errors become sentences for the user:
//
//   cjdroute admin at 127.0.0.1:11234 refused the password from /etc/cjdroute.conf (Auth failed.)
//   no reply from cjdroute admin at 127.0.0.1:11234 within 2 s
//
// Threading: on the client's executor.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "admin_client.hpp"
#include "nodes.hpp"

namespace mnigs::cjdns {

// A real node store fits in far fewer pages (4 nodes a page); this only
// bounds a daemon that keeps saying "more".
inline constexpr std::size_t kMaxPages = 4096;

struct Collected {
  std::string error;       // "" when both functions were read to the end
  NodesFound nodes;        // valid only without error
  std::size_t pages = 0;   // replies received, both functions together
  std::string peers_note;  // why peers are missing when only peerStats failed
};

// Runs one round on `client`; `done` runs once on its executor (not if the
// client is closed first).
void collect(std::shared_ptr<AdminClient> client, std::chrono::milliseconds timeout,
             std::size_t max_pages, std::function<void(Collected)> done);

// The sentence for a failed call.
std::string describe(const AdminClient::Reply& reply, const std::string& function,
                     const AdminTarget& target, std::chrono::milliseconds timeout);

}  // namespace mnigs::cjdns
