// The lines of babeld's local configuration interface, parsed.
//
// After its greeting, babeld answers `dump` and `monitor` with lines such as
//   add neighbour 55dccfd87510 address fe80::9016:eff:feac:444 if vbc reach fe00
//       ureach 0000 rxcost 96 txcost 96 cost 96
//   add xroute 10.99.0.2/32-0.0.0.0/0 prefix 10.99.0.2/32 from 0.0.0.0/0 metric 0
//   change route 55dccfd89e80 prefix 10.99.0.3/32 from 0.0.0.0/0 installed yes
//       id 04:6f:55:44:b2:70:80:e6 metric 96 refmetric 0 via fe80::9016:eff:feac:444 if vbc
// (one line each): a verb (add, change, flush), an object kind, babeld's
// handle for the object, then key/value pairs. A request's answer ends with
// "ok", "no [message]" or "bad". Pure functions, no I/O.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace mnigs::babel {

// Babel's infinite metric: a retracted or unreachable route.
inline constexpr std::uint32_t kInfinity = 0xFFFF;

// An IPv4 or IPv6 prefix as babeld prints it ("10.99.0.3/32", "::/0").
struct Prefix {
  boost::asio::ip::address address;
  unsigned length = 0;

  bool is_default() const { return length == 0; }
  // A single address: /32 for IPv4, /128 for IPv6.
  bool is_host() const { return length == (address.is_v4() ? 32u : 128u); }
  std::string str() const { return address.to_string() + "/" + std::to_string(length); }
  bool operator==(const Prefix&) const = default;
};

// "ADDRESS/LENGTH" with the length within the family; nullopt otherwise.
std::optional<Prefix> parse_prefix(std::string_view text);

// A babel router id as babeld prints it: 8 bytes in hex, colon-separated
// ("04:6f:55:44:b2:70:80:e6"); returned in lower case.
std::optional<std::string> parse_router_id(std::string_view text);

enum class Verb { add, change, flush };

// A route babeld learned from a neighbour ("route" lines).
struct Route {
  std::string handle;  // babeld's name for this entry; a change or flush names it again
  Prefix prefix;
  Prefix from;  // source prefix; ::/0 or 0.0.0.0/0 unless source-specific
  bool installed = false;
  std::string router_id;  // the node that originated the route
  std::uint32_t metric = kInfinity;
  std::uint32_t refmetric = kInfinity;  // the metric the neighbour announced
  std::string via;                      // the neighbour's (link-local) address
  std::string ifname;
};

// A babel neighbour on one of this node's interfaces.
struct Neighbour {
  std::string handle;
  std::string address;
  std::string ifname;
  std::optional<std::uint32_t> cost;  // link cost; absent in babeld before 1.4
};

// A route this node itself announces ("xroute": exported route).
struct Xroute {
  std::string handle;
  Prefix prefix;
  Prefix from;
  std::uint32_t metric = 0;
};

struct Interface {
  std::string name;
  bool up = false;
};

// One add/change/flush line. A flush may carry only the handle.
struct Update {
  Verb verb = Verb::add;
  std::variant<Route, Neighbour, Xroute, Interface> object;
};

// The end of an answer to a request.
struct Reply {
  enum class Kind { ok, no, bad } kind = Kind::ok;
  std::string message;  // the text after "no", if any
};

// A well-formed line about an object this parser does not know (a newer
// babeld may add kinds); skipped.
struct Unknown {
  std::string kind;
};

// A line that is not what babeld sends: why, for the log.
struct Malformed {
  std::string why;
};

using Line = std::variant<Update, Reply, Unknown, Malformed>;

// Parses one line after the greeting, without its newline.
Line parse_line(std::string_view line);

// babeld's greeting: "BABEL 1.0", then "version ...", "host ...",
// "my-id ...", ... up to "ok".
struct Greeting {
  std::string protocol;  // "1.0"
  std::string version;   // "babeld-1.12.1"
  std::string host;
  std::string my_id;  // this node's router id
};

// Reads the greeting one line at a time.
class GreetingReader {
 public:
  enum class Step { more, done, failed };
  // `why` says what was wrong when the answer is `failed`.
  Step feed(std::string_view line, std::string* why);
  const Greeting& greeting() const { return greeting_; }

 private:
  bool first_ = true;
  Greeting greeting_;
};

}  // namespace mnigs::babel
