#include "parser.hpp"

#include "util/net.hpp"

#include <algorithm>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <charconv>
#include <map>
#include <vector>

namespace mnigs::babel {

namespace {

// Fields are separated by one or more blanks; babeld uses single spaces.
std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

// babeld prints text only; a control byte means the stream is not babeld's.
bool printable(std::string_view line) {
  return std::none_of(line.begin(), line.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

std::optional<std::uint32_t> parse_uint(std::string_view text, std::uint32_t max) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value > max)
    return std::nullopt;
  return value;
}

std::optional<boost::asio::ip::address> parse_address(std::string_view text) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(text), ec);
  if (ec) return std::nullopt;
  return a;
}

// The key/value pairs after an object's handle.
using Fields = std::map<std::string_view, std::string_view>;

Malformed malformed(std::string why) { return Malformed{std::move(why)}; }

// Reads the required key `key` into `out` with `parse`; false (and `why`) if
// it is missing or does not parse.
template <class T, class Parse>
bool field(const Fields& f, std::string_view key, T& out, Parse parse, std::string& why) {
  auto it = f.find(key);
  if (it == f.end()) {
    why = "no \"" + std::string(key) + "\"";
    return false;
  }
  auto value = parse(it->second);
  if (!value) {
    why = "bad \"" + std::string(key) + "\" value \"" + std::string(it->second) + "\"";
    return false;
  }
  out = *value;
  return true;
}

auto as_metric = [](std::string_view t) { return parse_uint(t, kInfinity); };
auto as_prefix = [](std::string_view t) { return parse_prefix(t); };
auto as_router_id = [](std::string_view t) { return parse_router_id(t); };
auto as_address = [](std::string_view t) -> std::optional<std::string> {
  auto a = parse_address(t);
  if (!a) return std::nullopt;
  return a->to_string();
};
auto as_word = [](std::string_view t) -> std::optional<std::string> { return std::string(t); };
auto as_yes_no = [](std::string_view t) -> std::optional<bool> {
  if (t == "yes" || t == "true") return true;
  if (t == "no" || t == "false") return false;
  return std::nullopt;
};

// The default source prefix of the family of `p`.
Prefix any_source(const Prefix& p) {
  if (p.address.is_v4()) return Prefix{boost::asio::ip::address_v4::any(), 0};
  return Prefix{boost::asio::ip::address_v6::any(), 0};
}

// The source prefix ("from"), absent in babeld before source-specific routing.
bool source(const Fields& f, const Prefix& prefix, Prefix& out, std::string& why) {
  if (!f.count("from")) {
    out = any_source(prefix);
    return true;
  }
  if (!field(f, "from", out, as_prefix, why)) return false;
  if (out.address.is_v4() != prefix.address.is_v4()) {
    why = "\"from\" is not of the family of \"prefix\"";
    return false;
  }
  return true;
}

Line route(Verb verb, std::string handle, const Fields& f) {
  Route r;
  r.handle = std::move(handle);
  std::string why;
  bool ok = field(f, "prefix", r.prefix, as_prefix, why) && source(f, r.prefix, r.from, why) &&
            field(f, "installed", r.installed, as_yes_no, why) &&
            field(f, "id", r.router_id, as_router_id, why) &&
            field(f, "metric", r.metric, as_metric, why) &&
            field(f, "refmetric", r.refmetric, as_metric, why) &&
            field(f, "via", r.via, as_address, why) && field(f, "if", r.ifname, as_word, why);
  if (!ok) return malformed("route " + why);
  return Update{verb, std::move(r)};
}

Line neighbour(Verb verb, std::string handle, const Fields& f) {
  Neighbour n;
  n.handle = std::move(handle);
  std::string why;
  if (!field(f, "address", n.address, as_address, why) || !field(f, "if", n.ifname, as_word, why))
    return malformed("neighbour " + why);
  if (f.count("cost")) {
    std::uint32_t cost = 0;
    if (!field(f, "cost", cost, as_metric, why)) return malformed("neighbour " + why);
    n.cost = cost;
  }
  return Update{verb, std::move(n)};
}

Line xroute(Verb verb, std::string handle, const Fields& f) {
  Xroute x;
  x.handle = std::move(handle);
  std::string why;
  if (!field(f, "prefix", x.prefix, as_prefix, why) || !source(f, x.prefix, x.from, why) ||
      !field(f, "metric", x.metric, as_metric, why))
    return malformed("xroute " + why);
  return Update{verb, std::move(x)};
}

Line interface(Verb verb, std::string name, const Fields& f) {
  Interface i;
  i.name = std::move(name);
  std::string why;
  if (!field(f, "up", i.up, as_yes_no, why)) return malformed("interface " + why);
  return Update{verb, std::move(i)};
}

// A flush needs only the handle; babeld repeats the fields, which are not needed.
Line flush(std::string_view kind, std::string handle) {
  auto named = [&](auto object) {
    object.handle = std::move(handle);
    return Update{Verb::flush, std::move(object)};
  };
  if (kind == "route") return named(Route());
  if (kind == "neighbour") return named(Neighbour());
  if (kind == "xroute") return named(Xroute());
  Interface i;
  i.name = std::move(handle);
  return Update{Verb::flush, std::move(i)};
}

std::optional<Line> reply(const std::vector<std::string_view>& t, std::string_view line) {
  if (t[0] == "ok" && t.size() == 1) return Reply{Reply::Kind::ok, ""};
  if (t[0] == "bad" && t.size() == 1) return Reply{Reply::Kind::bad, ""};
  if (t[0] == "no") {
    if (t.size() == 1) return Reply{Reply::Kind::no, ""};
    auto message = line.substr(static_cast<std::size_t>(t[1].data() - line.data()));
    return Reply{Reply::Kind::no, std::string(message)};
  }
  return std::nullopt;
}

}  // namespace

std::optional<Prefix> parse_prefix(std::string_view text) {
  auto p = mnigs::parse_prefix(text, nullptr, {.bare_address = false, .host_bits = true});
  if (!p) return std::nullopt;
  return Prefix{p->network, p->length};
}

std::optional<std::string> parse_router_id(std::string_view text) {
  // xx:xx:xx:xx:xx:xx:xx:xx
  if (text.size() != 23) return std::nullopt;
  std::string out(text);
  for (std::size_t i = 0; i < out.size(); ++i) {
    char& c = out[i];
    if (i % 3 == 2) {
      if (c != ':') return std::nullopt;
      continue;
    }
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return out;
}

Line parse_line(std::string_view line) {
  if (!printable(line)) return malformed("control characters in the line");
  auto t = split(line);
  if (t.empty()) return malformed("empty line");
  if (auto r = reply(t, line)) return *r;

  Verb verb;
  if (t[0] == "add")
    verb = Verb::add;
  else if (t[0] == "change")
    verb = Verb::change;
  else if (t[0] == "flush")
    verb = Verb::flush;
  else
    return malformed("unknown verb \"" + std::string(t[0]) + "\"");
  if (t.size() < 3) return malformed("no object or handle after \"" + std::string(t[0]) + "\"");

  std::string_view kind = t[1];
  bool known = kind == "route" || kind == "neighbour" || kind == "xroute" || kind == "interface";
  if (!known) return Unknown{std::string(kind)};
  std::string handle(t[2]);
  if (verb == Verb::flush) return flush(kind, std::move(handle));

  // The rest are pairs; an odd count means the line was cut short.
  if ((t.size() - 3) % 2 != 0)
    return malformed(std::string(kind) + " \"" + std::string(t.back()) + "\" has no value");
  Fields f;
  for (std::size_t i = 3; i + 1 < t.size(); i += 2) f[t[i]] = t[i + 1];

  if (kind == "route") return route(verb, std::move(handle), f);
  if (kind == "neighbour") return neighbour(verb, std::move(handle), f);
  if (kind == "xroute") return xroute(verb, std::move(handle), f);
  return interface(verb, std::move(handle), f);
}

GreetingReader::Step GreetingReader::feed(std::string_view line, std::string* why) {
  auto fail = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return Step::failed;
  };
  if (!printable(line)) return fail("its greeting holds control characters");
  auto t = split(line);
  if (first_) {
    first_ = false;
    // "BABEL 1.0": the protocol's major version must be 1.
    if (t.size() != 2 || t[0] != "BABEL" || t[1].substr(0, 2) != "1.")
      return fail("it did not greet with \"BABEL 1.x\" (is this babeld's local interface?)");
    greeting_.protocol = std::string(t[1]);
    return Step::more;
  }
  if (t.size() == 1 && t[0] == "ok") {
    if (greeting_.my_id.empty()) return fail("its greeting has no my-id");
    return Step::done;
  }
  if (t.size() == 1 && (t[0] == "no" || t[0] == "bad")) return fail("it refused the connection");
  // Informational "key value" lines; unknown keys are for newer versions.
  if (t.size() < 2) return Step::more;
  auto value = line.substr(static_cast<std::size_t>(t[1].data() - line.data()));
  value = value.substr(0, value.find_last_not_of(" \t") + 1);
  if (t[0] == "version")
    greeting_.version = std::string(value);
  else if (t[0] == "host")
    greeting_.host = std::string(value);
  else if (t[0] == "my-id") {
    auto id = parse_router_id(t[1]);
    if (!id) return fail("its my-id \"" + std::string(t[1]) + "\" is not a router id");
    greeting_.my_id = *id;
  }
  return Step::more;
}

}  // namespace mnigs::babel
