// Entries of static.peers: the forms the README promises, and a clear reason
// for each way an entry can be wrong.
#include "peers.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mnigs::static_discovery {
namespace {

TEST(StaticPeer, ReadsEveryDocumentedForm) {
  struct Case {
    const char* text;
    const char* address;
    std::uint16_t port;
  };
  const std::vector<Case> cases = {
      {"10.0.0.2", "10.0.0.2", 0},  // port 0: every daemon.scanports port
      {"10.0.0.3:65534", "10.0.0.3", 65534},
      {"10.0.0.3:1", "10.0.0.3", 1},
      {"10.0.0.3:65535", "10.0.0.3", 65535},
      {"fd00::2", "fd00::2", 0},
      {"[fd00::2]:65533", "fd00::2", 65533},
      {"[fd00::2]", "fd00::2", 0},
      // Written as the kernel prints it, so the scanner sees one node
      // however the entry was spelled.
      {"FD00:0::0002", "fd00::2", 0},
      {"[FD00:0::0002]:65533", "fd00::2", 65533},
      // A link-local neighbour keeps its zone: without it there is no route.
      {"[fe80::1%lo]:65534", "fe80::1%lo", 65534},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    std::string why;
    auto p = parse_peer(c.text, &why);
    ASSERT_TRUE(p) << why;
    EXPECT_EQ(p->address, c.address);
    EXPECT_EQ(p->port, c.port);
    EXPECT_EQ(p->detail, "static peer");
    EXPECT_EQ(p->node, "") << "the config gives no protocol node id";
    EXPECT_FALSE(p->gateway);
    EXPECT_EQ(why, "") << "no reason given for an entry that is fine";
  }
}

TEST(StaticPeer, SaysWhatIsWrongWithAnEntry) {
  const std::string not_address =
      "is not an IPv4 or IPv6 address (write ADDRESS, ADDRESS:PORT or [IPv6]:PORT)";
  const std::string bad_port = "has a port that is not 1..65535";
  struct Case {
    const char* text;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"", not_address},
      {"gateway.lan", not_address},  // no names: the mesh has no DNS to rely on
      {"gateway.lan:65534", not_address},
      {"10.0.0.256", not_address},
      {"10.0.0", not_address},
      {"10.0.0.2:65534:1", not_address},
      {"fd00::1:65533", not_address},  // an IPv6 address with a port needs brackets
      {"10.0.0.2:0", bad_port},
      {"10.0.0.2:65536", bad_port},
      {"10.0.0.2:", bad_port},
      {"10.0.0.2:http", bad_port},
      {"10.0.0.2:80x", bad_port},
      {"10.0.0.2:-1", bad_port},
      {"10.0.0.2:99999999999", bad_port},
      {"[fd00::2]:", bad_port},
      {"[fd00::2]:0", bad_port},
      {"[fd00::2", "has '[' without ']'"},
      {"[fd00::2]65533", "must be [IPv6]:PORT"},
      {"[gateway.lan]:65533", not_address},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    std::string why;
    auto p = parse_peer(c.text, &why);
    EXPECT_FALSE(p) << "accepted as " << p->address << " port " << p->port;
    // The reason quotes the entry, so the user sees which one.
    EXPECT_EQ(why, "\"" + std::string(c.text) + "\" " + c.reason);
  }
}

TEST(StaticPeer, ReasonIsOptional) {
  EXPECT_FALSE(parse_peer("10.0.0.2:0", nullptr));
  EXPECT_TRUE(parse_peer("10.0.0.2:65534", nullptr));
}

}  // namespace
}  // namespace mnigs::static_discovery
