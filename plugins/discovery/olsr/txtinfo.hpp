// olsrd's txtinfo plugin (lib/txtinfo, default TCP port 2006), the fallback
// when jsoninfo is not loaded.
//
// Request: "GET /all HTTP/1.0". olsrd 0.9 knows "/all" as every table; 0.6
// matches table names with strstr and sends every table when none matches,
// so both send the tables read here. The daemon answers once and closes.
//
// Reply: an optional HTTP header, then tables, each "Table: <name>\n", a
// line of tab-separated column titles, one tab-separated row per entry, and
// an empty line (lib/txtinfo/src/olsrd_txtinfo.c):
//   Table: Neighbors  IP address, SYM (YES/NO), MPR, MPRS, Will., 2-hop count
//   Table: Routes     Destination (a.b.c.d/len), Gateway IP, Metric (hops), ETX, Interface
//   Table: HNA        Destination (a.b.c.d/len), Gateway [, VTime]
//   Table: Topology   Dest. IP, Last hop IP, LQ, NLQ, Cost [, VTime]
// Other tables (Links, MID, Gateways, Interfaces, ...) are passed over.
// Costs are ETX text ("1.000", or "INFINITE"). olsrd 0.9 answers a bad
// request without a header as "error: 404 Not Found".
#pragma once

#include <string>
#include <string_view>

#include "view.hpp"

namespace mnigs::olsr::txtinfo {

// The request, with its line ends.
std::string request();

// Parses a whole reply (header included, if any) into `view` (pass an empty
// one, and drop it on error). Returns "" on success (unreadable rows are in
// view.skipped), else why nothing could be read.
std::string parse(std::string_view reply, View& view);

}  // namespace mnigs::olsr::txtinfo
