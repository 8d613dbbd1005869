// olsrd2 (OONF) through its telnet plugin (default TCP port 2009) and the
// viewers nhdpinfo (src/nhdp/nhdpinfo) and olsrv2info (src/olsrv2/olsrv2info).
//
// Request: one line starting with '/', which OONF's telnet reads as a chain
// of commands separated by '/', runs them in order and then closes the
// connection (src/base/oonf_telnet.c). Each table is asked for twice: with
// "head", which prints the table's keys tab-separated, then plain, which
// prints one tab-separated line per entry:
//   /nhdpinfo head neighbor/nhdpinfo neighbor/olsrv2info head node/...
// Reading columns by the keys in the head line, not by position, keeps this
// working across OONF versions, which have reordered and added keys. Keys read:
//   neighbor:         neighbor_originator, neighbor_dualstack, neighbor_symmetric,
//                     domain_metric_out_raw
//   node:             node
//   attached_network: node, attached_net ("0.0.0.0/0" or "::/0" = gateway)
//   edge:             node, edge, domain_metric_out_raw
//   route:            route_dst, route_if, domain_path_hops
// Addresses print without a prefix length when they are host addresses, and
// "-" when unset. An unknown command or subcommand produces a line such as
// "Error, unknown command 'olsrv2info'", which is noted and skipped.
#pragma once

#include <string>
#include <string_view>

#include "view.hpp"

namespace mnigs::olsr::olsrd2 {

// The request line, with its line end.
std::string request();

// Parses the whole telnet output into `view` (pass an empty one, and drop it
// on error). Returns "" on success (unreadable lines are in view.skipped),
// else why nothing could be read.
std::string parse(std::string_view reply, View& view);

}  // namespace mnigs::olsr::olsrd2
