// olsrd's jsoninfo plugin (lib/jsoninfo, default TCP port 9090).
//
// Request: one line naming tables, "/neighbors/routes/hna/topology"; olsrd
// 0.9 reads it as a composite command (lib/info/olsrd_info.c), 0.6 looks for
// each name with strstr. Sent as "GET <tables> HTTP/1.0", which both accept;
// the daemon answers once and closes.
//
// Reply: an optional HTTP header, then one JSON object holding the arrays
//   "neighbors": [{"ipAddress" (0.6: "ipv4Address"), "symmetric", ...}]
//   "routes":    [{"destination", "genmask", "gateway", "metric" (hops),
//                  "etx", "rtpMetricCost", "networkInterface"}]
//   "hna":       [{"gateway", "destination", "genmask", "validityTime"}]
//   "topology":  [{"lastHopIP", "destinationIP", "tcEdgeCost", ...}]
// tcEdgeCost is a float ETX in 0.9 ("1.000000") and olsrd's integer link
// cost (ETX x 1024) in 0.6. olsrd 0.9 answers a bad request without a header
// as {"error": "404 Not Found", ...}.
#pragma once

#include <string>
#include <string_view>

#include "view.hpp"

namespace mnigs::olsr::jsoninfo {

// The request line, with its line end.
std::string request();

// Parses a whole reply (header included, if any) into `view` (pass an empty
// one, and drop it on error). Returns "" on success (entries that could not
// be read are in view.skipped), else why nothing could be read ("the reply
// is not valid JSON (...)").
std::string parse(std::string_view reply, View& view);

}  // namespace mnigs::olsr::jsoninfo
