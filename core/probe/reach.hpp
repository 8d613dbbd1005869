// Whether targets beyond a gateway can be reached (subscriber.checkTargets),
// tried through whatever route the host has, which while connected is the
// tunnel. Each target is one of:
//
//   http://HOST[:PORT][/PATH]   an HTTP GET; a redirect (3xx) or 511 is a
//                               captive portal: "payment required"
//   https://HOST[:PORT][/PATH]  a TCP connection to the port (443)
//   HOST:PORT, [IPv6]:PORT      a TCP connection
//   NAME                        a DNS lookup
//
// All run at once, each bounded by the timeout; the status line is read
// through a 1 KiB bound and nothing else of the answer.
#pragma once

#include <json/value.h>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace mnigs::probe {

struct Reach {
  std::string target;
  enum class Outcome { reachable, payment_required, unreachable, invalid } outcome;
  std::string detail;  // what was seen, for the user
};
const char* to_string(Reach::Outcome o);
// [{"target", "outcome" (to_string), "detail"}...], for status and testGateway.
Json::Value to_json(const std::vector<Reach>& reach);

// `done` runs once, on `ex`, with one Reach per target, in order.
void check_reach(boost::asio::any_io_executor ex, const std::vector<std::string>& targets,
                 std::chrono::milliseconds timeout, std::function<void(std::vector<Reach>)> done);

}  // namespace mnigs::probe
