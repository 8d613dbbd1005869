// Parsing what babeld sends: lines captured from babeld 1.12.1, and lines it
// never sends (garbage, cut short, too long).
#include "parser.hpp"

#include <gtest/gtest.h>

#include "line_reader.hpp"
#include "test_support.hpp"

namespace mnigs::babel::testing {
namespace {

template <class T>
const T& object(const Line& line) {
  return std::get<T>(std::get<Update>(line).object);
}

bool is_malformed(const Line& line) { return std::holds_alternative<Malformed>(line); }

std::string why(const Line& line) {
  auto* m = std::get_if<Malformed>(&line);
  return m ? m->why : "";
}

TEST(BabelParser, EveryCapturedLineParses) {
  for (const char* name : {"dump_leaf.txt", "dump_relay.txt", "dump_gateway.txt",
                           "monitor_gateway_restart.txt", "monitor_relay_restart.txt"}) {
    auto t = load(name);
    ASSERT_FALSE(t.dump.empty()) << name;
    for (const auto* part : {&t.dump, &t.after})
      for (const auto& line : *part) {
        auto parsed = parse_line(line);
        EXPECT_TRUE(std::holds_alternative<Update>(parsed))
            << name << ": " << line << ": " << why(parsed);
      }
  }
}

TEST(BabelParser, RouteLine) {
  auto line = parse_line(
      "add route 561e734b3940 prefix 10.99.0.1/32 from 0.0.0.0/0 installed no id "
      "34:fe:83:e7:11:bf:b5:d2 metric 288 refmetric 192 via fe80::9016:eff:feac:444 if vbc");
  ASSERT_TRUE(std::holds_alternative<Update>(line)) << why(line);
  EXPECT_EQ(std::get<Update>(line).verb, Verb::add);
  const auto& r = object<Route>(line);
  EXPECT_EQ(r.handle, "561e734b3940");
  EXPECT_EQ(r.prefix.str(), "10.99.0.1/32");
  EXPECT_TRUE(r.prefix.is_host());
  EXPECT_TRUE(r.from.is_default());
  EXPECT_FALSE(r.installed);
  EXPECT_EQ(r.router_id, "34:fe:83:e7:11:bf:b5:d2");
  EXPECT_EQ(r.metric, 288u);
  EXPECT_EQ(r.refmetric, 192u);
  EXPECT_EQ(r.via, "fe80::9016:eff:feac:444");
  EXPECT_EQ(r.ifname, "vbc");
}

TEST(BabelParser, RetractedRouteAndDefaultRoute) {
  auto line = parse_line(
      "change route 564a90d13130 prefix ::/0 from ::/0 installed yes id "
      "B8:D8:5C:4F:2E:89:D5:19 metric 65535 refmetric 65535 via fe80::244a:13ff:fef5:d00d if vab");
  ASSERT_TRUE(std::holds_alternative<Update>(line)) << why(line);
  EXPECT_EQ(std::get<Update>(line).verb, Verb::change);
  const auto& r = object<Route>(line);
  EXPECT_TRUE(r.prefix.is_default());
  EXPECT_FALSE(r.prefix.is_host());
  EXPECT_EQ(r.metric, kInfinity);
  EXPECT_EQ(r.router_id, "b8:d8:5c:4f:2e:89:d5:19");  // lower case
}

TEST(BabelParser, RouteWithoutSourcePrefixIsFromTheDefault) {
  // babeld before source-specific routing (1.6) printed no "from".
  auto line = parse_line(
      "add route 1 prefix fd99::3/128 installed yes id 04:6f:55:44:b2:70:80:e6 metric 96 "
      "refmetric 0 via fe80::1 if eth0");
  ASSERT_TRUE(std::holds_alternative<Update>(line)) << why(line);
  EXPECT_EQ(object<Route>(line).from.str(), "::/0");
}

TEST(BabelParser, NeighbourLines) {
  // With timestamps enabled babeld adds the round-trip time.
  auto line = parse_line(
      "add neighbour 55dccfd89bb0 address fe80::9016:eff:feac:444 if vbc reach fff8 ureach 0000 "
      "rxcost 96 txcost 96 rtt 0.327 rttcost 0 cost 96");
  ASSERT_TRUE(std::holds_alternative<Update>(line)) << why(line);
  const auto& n = object<Neighbour>(line);
  EXPECT_EQ(n.handle, "55dccfd89bb0");
  EXPECT_EQ(n.address, "fe80::9016:eff:feac:444");
  EXPECT_EQ(n.ifname, "vbc");
  ASSERT_TRUE(n.cost.has_value());
  EXPECT_EQ(*n.cost, 96u);

  auto gone = parse_line(
      "flush neighbour 564a90d11d40 address fe80::244a:13ff:fef5:d00d if vab reach 0000 ureach "
      "0000 rxcost 65535 txcost 96 cost 65535");
  ASSERT_TRUE(std::holds_alternative<Update>(gone)) << why(gone);
  EXPECT_EQ(std::get<Update>(gone).verb, Verb::flush);
  EXPECT_EQ(object<Neighbour>(gone).handle, "564a90d11d40");
}

TEST(BabelParser, XrouteAndInterfaceLines) {
  auto x = parse_line("add xroute ::/0-::/0 prefix ::/0 from ::/0 metric 128");
  ASSERT_TRUE(std::holds_alternative<Update>(x)) << why(x);
  EXPECT_EQ(object<Xroute>(x).handle, "::/0-::/0");
  EXPECT_EQ(object<Xroute>(x).metric, 128u);

  auto up = parse_line("add interface vba up true ipv6 fe80::244a:13ff:fef5:d00d ipv4 10.0.0.1");
  ASSERT_TRUE(std::holds_alternative<Update>(up)) << why(up);
  EXPECT_EQ(object<Interface>(up).name, "vba");
  EXPECT_TRUE(object<Interface>(up).up);
  auto down = parse_line("change interface vba up false");
  ASSERT_TRUE(std::holds_alternative<Update>(down)) << why(down);
  EXPECT_FALSE(object<Interface>(down).up);
}

TEST(BabelParser, FlushNeedsOnlyTheHandle) {
  auto line = parse_line("flush route 564a90d13130");
  ASSERT_TRUE(std::holds_alternative<Update>(line)) << why(line);
  EXPECT_EQ(object<Route>(line).handle, "564a90d13130");
}

TEST(BabelParser, Replies) {
  EXPECT_EQ(std::get<Reply>(parse_line("ok")).kind, Reply::Kind::ok);
  EXPECT_EQ(std::get<Reply>(parse_line("bad")).kind, Reply::Kind::bad);
  auto no = std::get<Reply>(parse_line("no couldn't find interface"));
  EXPECT_EQ(no.kind, Reply::Kind::no);
  EXPECT_EQ(no.message, "couldn't find interface");
}

TEST(BabelParser, UnknownObjectsAreSetAside) {
  auto line = parse_line("add tunnel 12 endpoint fd00::1");
  ASSERT_TRUE(std::holds_alternative<Unknown>(line));
  EXPECT_EQ(std::get<Unknown>(line).kind, "tunnel");
}

TEST(BabelParser, GarbageIsMalformed) {
  for (const char* text :
       {"", "   ", "hello world", "HTTP/1.1 400 Bad Request", "add", "add route",
        "remove route 1 prefix 10.0.0.1/32", "ok ok", "{\"jsonrpc\":\"2.0\"}",
        "add route 1 prefix 10.0.0.1/32 from 0.0.0.0/0 installed yes id 01:02:03:04:05:06:07:08 "
        "metric 96 refmetric 0 via fe80::1 if eth0\x01"}) {
    EXPECT_TRUE(is_malformed(parse_line(text))) << text;
  }
}

TEST(BabelParser, EveryTruncationOfARouteLineIsMalformed) {
  const std::string full =
      "change route 564a90d12ff0 prefix 10.99.0.2/32 from 0.0.0.0/0 installed yes id "
      "dc:ee:12:bc:f9:5f:03:a8 metric 96 refmetric 0 via fe80::244a:13ff:fef5:d00d if vab";
  ASSERT_FALSE(is_malformed(parse_line(full)));
  // Cut at each space: a line babeld stopped writing half-way.
  for (std::size_t at = full.find(' '); at != std::string::npos; at = full.find(' ', at + 1)) {
    auto cut = full.substr(0, at);
    EXPECT_TRUE(is_malformed(parse_line(cut))) << cut;
  }
}

TEST(BabelParser, BadValuesAreMalformed) {
  auto route = [](const std::string& prefix, const std::string& from, const std::string& id,
                  const std::string& metric, const std::string& via) {
    return "add route 1 prefix " + prefix + " from " + from + " installed yes id " + id +
           " metric " + metric + " refmetric 0 via " + via + " if eth0";
  };
  const std::string id = "01:02:03:04:05:06:07:08";
  EXPECT_FALSE(is_malformed(parse_line(route("10.0.0.1/32", "0.0.0.0/0", id, "96", "fe80::1"))));
  EXPECT_EQ(why(parse_line(route("10.0.0.1/33", "0.0.0.0/0", id, "96", "fe80::1"))),
            "route bad \"prefix\" value \"10.0.0.1/33\"");
  EXPECT_TRUE(is_malformed(parse_line(route("10.0.0.1", "0.0.0.0/0", id, "96", "fe80::1"))));
  EXPECT_TRUE(is_malformed(parse_line(route("fd00::1/129", "::/0", id, "96", "fe80::1"))));
  EXPECT_TRUE(is_malformed(parse_line(route("10.0.0.1/32", "::/0", id, "96", "fe80::1"))));
  EXPECT_TRUE(
      is_malformed(parse_line(route("10.0.0.1/32", "0.0.0.0/0", "01:02:03", "96", "fe80::1"))));
  EXPECT_TRUE(is_malformed(
      parse_line(route("10.0.0.1/32", "0.0.0.0/0", "zz:02:03:04:05:06:07:08", "96", "fe80::1"))));
  EXPECT_EQ(why(parse_line(route("10.0.0.1/32", "0.0.0.0/0", id, "65536", "fe80::1"))),
            "route bad \"metric\" value \"65536\"");
  EXPECT_TRUE(is_malformed(parse_line(route("10.0.0.1/32", "0.0.0.0/0", id, "-1", "fe80::1"))));
  EXPECT_TRUE(is_malformed(parse_line(route("10.0.0.1/32", "0.0.0.0/0", id, "9x", "fe80::1"))));
  EXPECT_TRUE(is_malformed(parse_line(route("10.0.0.1/32", "0.0.0.0/0", id, "96", "nowhere"))));
  EXPECT_TRUE(is_malformed(parse_line("add neighbour 1 address fe80::1 if eth0 cost lots")));
  EXPECT_TRUE(is_malformed(parse_line("add interface eth0 up maybe")));
}

TEST(BabelParser, GreetingOfBabeld) {
  GreetingReader reader;
  auto t = load("dump_relay.txt");
  ASSERT_EQ(t.greeting.size(), 5u);
  std::string why;
  for (std::size_t i = 0; i + 1 < t.greeting.size(); ++i)
    EXPECT_EQ(reader.feed(t.greeting[i], &why), GreetingReader::Step::more) << t.greeting[i];
  EXPECT_EQ(reader.feed(t.greeting.back(), &why), GreetingReader::Step::done) << why;
  EXPECT_EQ(reader.greeting().protocol, "1.0");
  EXPECT_EQ(reader.greeting().version, "babeld-1.12.1");
  EXPECT_EQ(reader.greeting().host, "vm");
  EXPECT_EQ(reader.greeting().my_id, "dc:ee:12:bc:f9:5f:03:a8");
}

TEST(BabelParser, GreetingsOfOtherServersFail) {
  std::string why;
  GreetingReader http;
  EXPECT_EQ(http.feed("HTTP/1.1 400 Bad Request", &why), GreetingReader::Step::failed);
  EXPECT_NE(why.find("BABEL 1.x"), std::string::npos) << why;

  GreetingReader future;
  EXPECT_EQ(future.feed("BABEL 2.0", &why), GreetingReader::Step::failed);

  GreetingReader no_id;
  EXPECT_EQ(no_id.feed("BABEL 1.0", &why), GreetingReader::Step::more);
  EXPECT_EQ(no_id.feed("version babeld-1.12.1", &why), GreetingReader::Step::more);
  EXPECT_EQ(no_id.feed("ok", &why), GreetingReader::Step::failed);
  EXPECT_EQ(why, "its greeting has no my-id");

  GreetingReader bad_id;
  bad_id.feed("BABEL 1.0", &why);
  EXPECT_EQ(bad_id.feed("my-id 12:34", &why), GreetingReader::Step::failed);
}

TEST(BabelLineReader, SplitsAcrossChunksAndStripsCarriageReturns) {
  LineReader reader(4096);
  std::vector<std::string> lines;
  int overlong = 0;
  auto line = [&](std::string_view l) { lines.emplace_back(l); };
  auto too_long = [&] { ++overlong; };
  reader.feed("BABEL 1.0\nversion bab", line, too_long);
  EXPECT_EQ(reader.pending(), 11u);
  reader.feed("eld-1.12.1\r\nok\n\n", line, too_long);
  EXPECT_EQ(lines, (std::vector<std::string>{"BABEL 1.0", "version babeld-1.12.1", "ok", ""}));
  EXPECT_EQ(overlong, 0);
  EXPECT_EQ(reader.pending(), 0u);
}

TEST(BabelLineReader, DropsOverlongLinesWholeAndKeepsTheNext) {
  LineReader reader(16);
  std::vector<std::string> lines;
  int overlong = 0;
  auto line = [&](std::string_view l) { lines.emplace_back(l); };
  auto too_long = [&] { ++overlong; };
  reader.feed("exactly sixteen!\n", line, too_long);
  // 40 bytes without a newline, in pieces: the buffer does not grow past the bound.
  reader.feed(std::string(20, 'x'), line, too_long);
  EXPECT_EQ(reader.pending(), 0u);
  reader.feed(std::string(20, 'y'), line, too_long);
  EXPECT_EQ(reader.pending(), 0u);
  reader.feed("zz\nok\n", line, too_long);
  EXPECT_EQ(lines, (std::vector<std::string>{"exactly sixteen!", "ok"}));
  EXPECT_EQ(overlong, 1);
}

}  // namespace
}  // namespace mnigs::babel::testing
