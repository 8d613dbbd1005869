// The helpers of core/util that are not about prefixes (net_test.cpp): the
// atomic file writer and the host:port parser.
#include "util/atomic_file.hpp"
#include "util/host_port.hpp"
#include "util/json_limits.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace mnigs {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::vector<std::string> entries(const TempDir& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir.path()))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// The message of what `write` throws; "" when it does not throw.
template <class F>
std::string error_of(F write) {
  try {
    write();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

TEST(WriteFileAtomic, KeepsModeAndLeavesNoTemporaryFile) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::string path = dir.file("mnigs.yaml");
  std::ofstream(path) << "old\n";
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  write_file_atomic(path, "new: 1\n");
  EXPECT_EQ(read_file(path), "new: 1\n");
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"mnigs.yaml"});
}

TEST(WriteFileAtomic, NewFileGets0644) {
  TempDir dir;
  std::string path = dir.file("fresh.yaml");
  write_file_atomic(path, "");
  EXPECT_EQ(read_file(path), "");
  EXPECT_EQ(mode_of(path), 0644u);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"fresh.yaml"});
}

TEST(WriteFileAtomic, GivenModeIsExactWhateverTheUmaskAndTheOldMode) {
  TempDir dir;
  std::string secret = dir.file("admin.token"), open = dir.file("dht.crt");
  std::ofstream(secret) << "old\n";
  ASSERT_EQ(::chmod(secret.c_str(), 0644), 0);
  const mode_t old_umask = ::umask(077);
  write_file_atomic(secret, "s3cret\n", {.mode = 0600});
  write_file_atomic(open, "cert\n", {.mode = 0644});
  ::umask(old_umask);
  EXPECT_EQ(read_file(secret), "s3cret\n");
  EXPECT_EQ(mode_of(secret), 0600u);
  EXPECT_EQ(read_file(open), "cert\n");
  EXPECT_EQ(mode_of(open), 0644u);
  EXPECT_EQ(entries(dir), (std::vector<std::string>{"admin.token", "dht.crt"}));
}

TEST(WriteFileAtomic, SymlinkTargetIsReplacedWhenFollowed) {
  TempDir dir;
  std::string target = dir.file("real.yaml"), link = dir.file("link.yaml");
  std::ofstream(target) << "old\n";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  write_file_atomic(link, "new\n", {.mode = std::nullopt, .follow_link = true});
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(read_file(target), "new\n");
  EXPECT_EQ(entries(dir), (std::vector<std::string>{"link.yaml", "real.yaml"}));
}

// A secret is never written through a link someone planted at its name.
TEST(WriteFileAtomic, SymlinkItselfIsReplacedByDefault) {
  TempDir dir;
  std::string elsewhere = dir.file("elsewhere"), link = dir.file("admin.token");
  std::ofstream(elsewhere) << "precious\n";
  ASSERT_EQ(::symlink(elsewhere.c_str(), link.c_str()), 0);
  write_file_atomic(link, "token\n", {.mode = 0600});
  EXPECT_FALSE(fs::is_symlink(link));
  EXPECT_EQ(read_file(link), "token\n");
  EXPECT_EQ(mode_of(link), 0600u);
  EXPECT_EQ(read_file(elsewhere), "precious\n");
}

TEST(WriteFileAtomic, MissingDirectoryThrowsWithThePath) {
  TempDir dir;
  std::string path = dir.file("missing/mnigs.yaml");
  const std::string error = error_of([&] { write_file_atomic(path, "x"); });
  EXPECT_NE(error.find("cannot write " + path), std::string::npos) << error;
  EXPECT_NE(error.find("No such file or directory"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(dir.file("missing")));
}

TEST(WriteFileAtomic, TargetThatIsADirectoryIsRefusedAndKept) {
  TempDir dir;
  std::string path = dir.file("node.id");
  ASSERT_TRUE(fs::create_directory(path));
  std::ofstream(path + "/inside") << "kept\n";
  const std::string error = error_of([&] { write_file_atomic(path, "x", {.mode = 0600}); });
  EXPECT_NE(error.find("cannot write " + path + ": not a regular file"), std::string::npos)
      << error;
  EXPECT_TRUE(fs::is_directory(path));
  EXPECT_EQ(read_file(path + "/inside"), "kept\n");
  EXPECT_EQ(entries(dir), std::vector<std::string>{"node.id"});
}

// A write that fails halfway (here: the file size limit, as a full disk
// would) leaves the old file as it was and no temporary file behind.
TEST(WriteFileAtomic, FailedWriteKeepsTheOldFileAndRemovesTheTemporaryOne) {
  TempDir dir;
  std::string path = dir.file("dht.key");
  std::ofstream(path) << "old key\n";
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);

  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a signal
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string error =
      error_of([&] { write_file_atomic(path, std::string(64 * 1024, 'k'), {.mode = 0600}); });
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_NE(error.find("cannot write " + path), std::string::npos) << error;
  EXPECT_NE(error.find("File too large"), std::string::npos) << error;
  EXPECT_EQ(read_file(path), "old key\n");
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(entries(dir), std::vector<std::string>{"dht.key"});
}


// ---------------------------------------------------------------- host:port

// "host port" for a text that parses, else "error: <why>".
std::string parsed(std::string_view text, const HostPortRules& rules) {
  std::string why;
  auto hp = parse_host_port(text, rules, &why);
  if (!hp) return "error: " + why;
  EXPECT_EQ(why, "") << "no reason for a text that parses";
  return hp->host + " " + std::to_string(hp->port);
}

TEST(HostPort, AddressAndPortInBothFamilies) {
  const HostPortRules strict;
  EXPECT_EQ(parsed("10.0.0.1:65533", strict), "10.0.0.1 65533");
  EXPECT_EQ(parsed("[fd00::1]:1", strict), "fd00::1 1");
  EXPECT_EQ(parsed("[::ffff:10.0.0.1]:80", strict), "::ffff:10.0.0.1 80");
  EXPECT_EQ(parsed("10.0.0.1:65535", strict), "10.0.0.1 65535");
  EXPECT_EQ(parsed("[fe80::1%lo]:80", strict), "fe80::1%lo 80") << "a zone stays";
}

TEST(HostPort, PortIsRequiredUnlessThereIsADefault) {
  EXPECT_EQ(parsed("10.0.0.1", {}),
            "error: \"10.0.0.1\" has no port (write ADDRESS:PORT or [IPv6]:PORT)");
  EXPECT_EQ(parsed("[fd00::1]", {}),
            "error: \"[fd00::1]\" has no port (write ADDRESS:PORT or [IPv6]:PORT)");
  const HostPortRules optional{.default_port = 4222};
  EXPECT_EQ(parsed("10.0.0.1", optional), "10.0.0.1 4222");
  EXPECT_EQ(parsed("[fd00::1]", optional), "fd00::1 4222");
  EXPECT_EQ(parsed("10.0.0.1:5000", optional), "10.0.0.1 5000");
  // 0 is a caller's "no port given", never a port one may write.
  EXPECT_EQ(parsed("10.0.0.1", {.default_port = 0}), "10.0.0.1 0");
  EXPECT_EQ(parsed("10.0.0.1:0", {.default_port = 0}),
            "error: \"10.0.0.1:0\" has a port that is not 1..65535");
}

TEST(HostPort, PortsOutsideOneTo65535AreRefused) {
  for (const char* bad : {"10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:99999999999",
                          "10.0.0.1:x", "10.0.0.1:12ab", "10.0.0.1:-1", "10.0.0.1:+80",
                          "10.0.0.1: 80", "[fd00::1]:", "[fd00::1]:70000"})
    EXPECT_EQ(parsed(bad, {.default_port = 80}),
              "error: \"" + std::string(bad) + "\" has a port that is not 1..65535");
}

TEST(HostPort, BareIpv6OnlyWhereAllowed) {
  const HostPortRules bare{.default_port = 80, .bare_ipv6 = true};
  EXPECT_EQ(parsed("fd00::1", bare), "fd00::1 80");
  EXPECT_EQ(parsed("::1", bare), "::1 80");
  // Without brackets the last group is part of the address, never a port.
  EXPECT_EQ(parsed("fd00::1:2009", bare), "fd00::1:2009 80");
  EXPECT_EQ(parsed("fd00::1:65533", bare),
            "error: \"fd00::1:65533\" is not an IPv4 or IPv6 address (write ADDRESS, "
            "ADDRESS:PORT or [IPv6]:PORT)");
  EXPECT_EQ(parsed("10.0.0.1:1:2", bare),
            "error: \"10.0.0.1:1:2\" is not an IPv4 or IPv6 address (write ADDRESS, "
            "ADDRESS:PORT or [IPv6]:PORT)");
  EXPECT_EQ(parsed("::1:2009", {}), "error: \"::1:2009\" must be [IPv6]:PORT");
  EXPECT_EQ(parsed("fd00::1", {.default_port = 80}), "error: \"fd00::1\" must be [IPv6]:PORT");
}

TEST(HostPort, BracketsHoldAnIpv6AddressAndOnlyAPortFollows) {
  const HostPortRules rules{.default_port = 80};
  EXPECT_EQ(parsed("[fd00::1", rules), "error: \"[fd00::1\" has '[' without ']'");
  EXPECT_EQ(parsed("[fd00::1]5000", rules), "error: \"[fd00::1]5000\" must be [IPv6]:PORT");
  for (const char* bad : {"[10.0.0.1]:80", "[nope]:1", "[]:80", "[gw.mesh]"})
    EXPECT_EQ(parsed(bad, {.default_port = 80, .bare_ipv6 = true, .names = true}),
              "error: \"" + std::string(bad) +
                  "\" is not a host name or IP address (write HOST, HOST:PORT or [IPv6]:PORT)");
}

TEST(HostPort, NamesOnlyWhereAllowed) {
  const HostPortRules names{.default_port = 4222, .bare_ipv6 = true, .names = true};
  EXPECT_EQ(parsed("node.mesh:1", names), "node.mesh 1");
  EXPECT_EQ(parsed("localhost", names), "localhost 4222");
  EXPECT_EQ(parsed("Gate_way-1.example", names), "Gate_way-1.example 4222");
  EXPECT_EQ(parsed("10.0.0.1", names), "10.0.0.1 4222");
  const std::string longest(253, 'a'), too_long(254, 'a');
  EXPECT_EQ(parsed(longest, names), longest + " 4222");
  for (const std::string bad : {"", ":5000", "a b:1", "a/b", "h\xc3\xa9:1", too_long.c_str()})
    EXPECT_EQ(parsed(bad, names), "error: \"" + bad +
                                      "\" is not a host name or IP address (write HOST, "
                                      "HOST:PORT or [IPv6]:PORT)");
  EXPECT_EQ(parsed("localhost:9090", {}),
            "error: \"localhost:9090\" is not an IPv4 or IPv6 address (write ADDRESS:PORT or "
            "[IPv6]:PORT)");
}

TEST(HostPort, WhyIsOptional) {
  EXPECT_FALSE(parse_host_port("nope", {}));
  EXPECT_TRUE(parse_host_port("10.0.0.1:1", {}));
}

// ---------------------------------------------------------------- JSON within limits

TEST(JsonLimits, MeasuresValuesAndDepthSkippingStrings) {
  EXPECT_EQ(measure_json("[0,0,0]").values, 4u);  // the array and three elements
  EXPECT_EQ(measure_json("[0,0,0]").depth, 1u);
  EXPECT_EQ(measure_json(R"({"a":[1,{"b":2}]})").depth, 3u);
  // Brackets and commas inside strings, escaped quotes included, count for nothing.
  const auto s = measure_json(R"({"a":"[[[,,,\"{{{"})");
  EXPECT_EQ(s.depth, 1u);
  EXPECT_EQ(s.values, 2u);
}

TEST(JsonLimits, ParsesStrictJsonWithinTheLimits) {
  std::string why;
  auto v = parse_json_within(R"({"a":[1,2,{"b":"c"}]})", {}, &why);
  ASSERT_TRUE(v) << why;
  EXPECT_EQ((*v)["a"][2]["b"].asString(), "c");
}

TEST(JsonLimits, RefusesBeforeParsingWhatCostsTooMuch) {
  JsonLimits limits{.max_bytes = 1 << 20, .max_depth = 8, .max_values = 1000, .what = "reply"};
  std::string many = "[0";
  for (int i = 0; i < 2000; ++i) many += ",0";
  many += "]";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string((1 << 20) + 1, ' '), "reply is 1048577 bytes, more than 1048576"},
      {std::string(9, '[') + std::string(9, ']'), "reply is nested deeper than 8 levels"},
      {std::string(100000, '[') + std::string(100000, ']'), "nested deeper than 8"},
      {many, "reply holds more than 1000 values"},
  };
  for (const auto& [text, says] : cases) {
    std::string why;
    EXPECT_FALSE(parse_json_within(text, limits, &why)) << says;
    EXPECT_NE(why.find(says), std::string::npos) << why;
  }
}

TEST(JsonLimits, RefusesWhatIsNotOneStrictArrayOrObject) {
  for (const std::string& text :
       {std::string(""), std::string("1"), std::string("\"s\""), std::string("{} {}"),
        std::string("{\"a\":1,}"), std::string("{\"a\":1,\"a\":2}"),
        std::string("// c\n{}"), std::string("[1,]"), std::string("{'a':1}"),
        std::string("[NaN]")}) {
    std::string why;
    std::optional<Json::Value> v;
    EXPECT_NO_THROW(v = parse_json_within(text, {}, &why)) << text;
    EXPECT_FALSE(v) << text;
    EXPECT_NE(why.find("not valid JSON"), std::string::npos) << text << ": " << why;
  }
}

}  // namespace
}  // namespace mnigs
