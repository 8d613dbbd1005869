// Finding cjdroute's admin address and password: cjdroute.conf with its
// comments, ~/.cjdnsadmin, the order they are tried in, and the sentences
// the user sees when neither works.
#include "settings.hpp"

#include <gtest/gtest.h>
#include <plugin_fakes.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace mnigs::cjdns {
namespace {

// A hand-written cjdroute.conf with the constructs the whole --genconf output
// (testdata/cjdroute-v21.1-genconf.conf) lacks: "//" inside a string, a
// trailing comma, a port other than the default.
const char* kConf = R"(/* cjdroute.conf, generated */
{
    // Private key:
    "privateKey": "823e45d5ca85b6f89d2a7feb56d5214d0e2e3afd5456eb0af2c4ac10350ebc70",
    "publicKey": "u2jf87mgqlxfzdnywp60z3tx6tkulvgh2nyc2jk1zc69zzt2s8u0.k",
    "ipv6": "fcff:a215:1e7b:a4e9:c00d:0813:93b3:7c87",
    "authorizedPasswords": [
        {"password": "peerpass", "user": "default-login"}
        /* More passwords should look like this.
        {"password": "x", "user": "y"}, */
    ],
    // Settings for administering and extracting information from your router.
    "admin":
    {
        // Port to bind the admin RPC server to.
        "bind": "127.0.0.1:11235",

        // Password for admin RPC server.
        "password": "adm1n//not-a-comment"
    },
    "router": { "interface": { "type": "TUNInterface" } },
    "security": [ { "setuser": "nobody", "keepNetAdmin": 1 }, ],
}
)";

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/mnigs-cjdns-test-XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(CjdnsSettings, ReadsAdminFromCommentedConf) {
  std::string why;
  auto t = admin_from_conf(kConf, "/etc/cjdroute.conf", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->address, "127.0.0.1");
  EXPECT_EQ(t->port, 11235);
  EXPECT_EQ(t->password, "adm1n//not-a-comment");
  EXPECT_EQ(t->endpoint(), "127.0.0.1:11235");
  EXPECT_EQ(t->source, "/etc/cjdroute.conf");
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(CjdnsSettings, ReadsTheConfThatCjdrouteGenconfWrites) {
  const std::string conf =
      read_file(std::string(MNIGS_CJDNS_TESTDATA) + "/cjdroute-v21.1-genconf.conf");
  std::string why;
  auto t = admin_from_conf(conf, "/etc/cjdroute.conf", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->endpoint(), "127.0.0.1:11234");
  EXPECT_EQ(t->password, "NONE");
  // The rest of it is read as cjdroute reads it, down to the arrays that
  // hold only comments.
  auto root = parse_commented_json(conf, &why);
  ASSERT_TRUE(root) << why;
  EXPECT_EQ((*root)["version"].asInt(), 2);
  EXPECT_TRUE((*root)["router"]["supernodes"].isArray());
  EXPECT_EQ((*root)["router"]["supernodes"].size(), 0u);
  EXPECT_EQ((*root)["router"]["ipTunnel"]["allowedConnections"].size(), 0u);
  EXPECT_EQ((*root)["router"]["ipTunnel"]["outgoingConnections"].size(), 0u);
  EXPECT_EQ((*root)["authorizedPasswords"].size(), 1u);
  EXPECT_EQ((*root)["interfaces"]["UDPInterface"].size(), 2u);
  EXPECT_EQ((*root)["security"].size(), 6u);
  EXPECT_EQ((*root)["publicKey"].asString().size(), 54u);
}

TEST(CjdnsSettings, CommentsMayBeAllThatAContainerHolds) {
  // cjdns v22's template adds an object that holds only comments.
  std::string why;
  auto root = parse_commented_json(R"({
    "router": {
        "dnsSeeds": [
            "seed.example"
        ],
        "publicPeer": {
            // "id": "PUB_XXX",

            // "ipv4": "1.2.3.4:56789",
        },
        "supernodes": [ /* none */ ],
        "empty": [/**/]
    },
    "admin": { "bind": "127.0.0.1:11234", "password": "NONE" /* the default */ }
})",
                                   &why);
  ASSERT_TRUE(root) << why;
  EXPECT_TRUE((*root)["router"]["publicPeer"].isObject());
  EXPECT_EQ((*root)["router"]["publicPeer"].size(), 0u);
  EXPECT_EQ((*root)["router"]["dnsSeeds"][0].asString(), "seed.example");
  EXPECT_EQ((*root)["router"]["supernodes"].size(), 0u);
  EXPECT_EQ((*root)["admin"]["password"].asString(), "NONE");
}

TEST(CjdnsSettings, StrayCommasAreSkippedAsCjdroutesOlderReaderSkipsThem) {
  std::string why;
  auto root = parse_commented_json(
      R"({"a": [1, 2, ], "b": {"x": 1, /* c */ }, "c": [1,, 2], "d": "x,]",})", &why);
  ASSERT_TRUE(root) << why;
  EXPECT_EQ((*root)["a"].size(), 2u);
  EXPECT_EQ((*root)["b"].size(), 1u);
  EXPECT_EQ((*root)["c"].size(), 2u);
  EXPECT_EQ((*root)["d"].asString(), "x,]") << "commas in strings are kept";
}

TEST(CjdnsSettings, ReadsCjdroutesHexEscapes) {
  std::string why;
  auto t = admin_from_conf(R"({"admin": {"password": "a\x22b\x5cc\x41\x01"}})", "c", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->password, std::string("a\"b\\cA\x01"));
  EXPECT_FALSE(admin_from_conf(R"({"admin": {"password": "a\x4"}})", "c", &why));
  EXPECT_EQ(why, "not valid JSON: \\x in a string is not followed by two hex digits (line 1)");
}

TEST(CjdnsSettings, ErrorsNameTheLineOfTheFile) {
  std::string why;
  EXPECT_FALSE(parse_commented_json("{\n  // one\n  /* two\n three */\n  \"a\": nope\n}", &why));
  EXPECT_EQ(why.rfind("not valid JSON: Line 5, Column", 0), 0u) << why;
  EXPECT_FALSE(parse_commented_json("{\n\n  /* never closed\n", &why));
  EXPECT_EQ(why, "not valid JSON: a /* comment is not closed (line 3)");
  EXPECT_FALSE(parse_commented_json("{\"a\": \"open\n\"}", &why));
  EXPECT_EQ(why, "not valid JSON: a string is not closed (line 1)");
}

TEST(CjdnsSettings, ConfWithoutBindUsesCjdroutesDefault) {
  auto t = admin_from_conf(R"({"admin": {"password": "p"}})", "c", nullptr);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->endpoint(), "127.0.0.1:11234");
}

TEST(CjdnsSettings, ParsesBindAddresses) {
  std::string why;
  EXPECT_EQ(parse_bind("[::1]:11234", &why),
            std::make_pair(std::string("::1"), std::uint16_t{11234}));
  EXPECT_EQ(parse_bind("localhost:9", &why),
            std::make_pair(std::string("127.0.0.1"), std::uint16_t{9}));
  EXPECT_EQ(parse_bind("0.0.0.0:11234", &why)->first, "127.0.0.1") << "wildcard: ask on loopback";
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "::1:11234",
                          "[::1]11234", "host.example:11234", "1.2.3.4:12ab"}) {
    EXPECT_FALSE(parse_bind(bad, &why)) << bad;
    EXPECT_NE(why.find("is not ADDRESS:PORT"), std::string::npos) << why;
  }
  AdminTarget t;
  t.address = "::1";
  EXPECT_EQ(t.endpoint(), "[::1]:11234");
}

TEST(CjdnsSettings, RefusesConfsWithoutAdminPassword) {
  std::string why;
  EXPECT_FALSE(admin_from_conf(R"({"router": {}})", "c", &why));
  EXPECT_EQ(why, "it has no \"admin\" section");
  EXPECT_FALSE(admin_from_conf(R"({"admin": {"bind": "127.0.0.1:1"}})", "c", &why));
  EXPECT_EQ(why, "it has no admin.password");
  EXPECT_FALSE(admin_from_conf("{\"admin\": ", "c", &why));
  EXPECT_EQ(why.rfind("not valid JSON: Line 1", 0), 0u) << why;
}

TEST(CjdnsSettings, ReadsCjdnsadmin) {
  std::string why;
  auto t = admin_from_cjdnsadmin(
      R"({"addr": "127.0.0.2", "port": 11300, "password": "pw", "config": "/etc/cjdroute.conf"})",
      "/root/.cjdnsadmin", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->endpoint(), "127.0.0.2:11300");
  EXPECT_EQ(t->password, "pw");
  EXPECT_FALSE(admin_from_cjdnsadmin(R"({"addr": "127.0.0.1", "port": 11234})", "f", &why));
  EXPECT_EQ(why, "it has no \"password\"");
  EXPECT_FALSE(admin_from_cjdnsadmin(R"({"port": 0, "password": "p"})", "f", &why));
  EXPECT_FALSE(admin_from_cjdnsadmin(R"({"addr": "cjdns.example", "password": "p"})", "f", &why));
}

TEST(CjdnsSettings, ExpandsHome) {
  EXPECT_EQ(expand_home("~/.cjdnsadmin", "/home/u"), "/home/u/.cjdnsadmin");
  EXPECT_EQ(expand_home("~", "/home/u"), "/home/u");
  EXPECT_EQ(expand_home("/etc/x", "/home/u"), "/etc/x");
  EXPECT_EQ(expand_home("~other/x", "/home/u"), "~other/x");
  EXPECT_EQ(expand_home("~/.cjdnsadmin", ""), "");
}

TEST(CjdnsSettings, TriesAdminFileFirstThenConf) {
  TempDir dir;
  Settings s;
  s.conf_file = dir.write("cjdroute.conf", kConf);
  s.admin_file = "~/.cjdnsadmin";
  std::string why;
  // No .cjdnsadmin yet: the conf.
  auto t = find_admin(s, dir.path(), &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->source, s.conf_file);
  EXPECT_EQ(t->password, "adm1n//not-a-comment");
  // With one, it wins.
  auto admin =
      dir.write(".cjdnsadmin", R"({"addr": "127.0.0.1", "port": 11234, "password": "fromfile"})");
  t = find_admin(s, dir.path(), &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->source, admin);
  EXPECT_EQ(t->password, "fromfile");
  // An empty key skips that file.
  s.admin_file = "";
  t = find_admin(s, dir.path(), &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->source, s.conf_file);
}

TEST(CjdnsSettings, BrokenAdminFileIsAnErrorNotSkipped) {
  TempDir dir;
  Settings s;
  s.conf_file = dir.write("cjdroute.conf", kConf);
  s.admin_file = dir.write("admin.json", "{ \"addr\": ");
  std::string why;
  EXPECT_FALSE(find_admin(s, dir.path(), &why));
  EXPECT_EQ(why.rfind("cannot use " + s.admin_file + ": not valid JSON", 0), 0u) << why;
}

TEST(CjdnsSettings, SaysWhichFileCannotBeRead) {
  TempDir dir;
  Settings s;
  s.conf_file = dir.path() + "/cjdroute.conf";
  s.admin_file = "~/.cjdnsadmin";
  std::string why;
  EXPECT_FALSE(find_admin(s, dir.path(), &why));
  EXPECT_EQ(why, "cannot read " + dir.path() +
                     "/cjdroute.conf: No such file or directory (and there is no " + dir.path() +
                     "/.cjdnsadmin)");

  s.admin_file = "";
  EXPECT_FALSE(find_admin(s, dir.path(), &why));
  EXPECT_EQ(why, "cannot read " + dir.path() + "/cjdroute.conf: No such file or directory");

  // A directory in place of the file.
  s.conf_file = dir.path();
  EXPECT_FALSE(find_admin(s, dir.path(), &why));
  EXPECT_EQ(why.rfind("cannot", 0), 0u) << why;

  s.conf_file = "";
  EXPECT_FALSE(find_admin(s, dir.path(), &why));
  EXPECT_NE(why.find("both empty"), std::string::npos) << why;
}

// Records declarations, so the README and conf/mnigs.yaml can be held to them.
using Recorder = mnigs::testing::RecordingDeclarer;

TEST(CjdnsSettings, DeclaresItsKeysWithDefaults) {
  Recorder r;
  declare_keys(r);
  ASSERT_EQ(r.keys.size(), 3u);
  EXPECT_EQ(r.keys[0].name, "confFile");
  EXPECT_EQ(r.keys[0].default_value.asString(), "/etc/cjdroute.conf");
  EXPECT_EQ(r.keys[1].name, "adminFile");
  EXPECT_EQ(r.keys[1].default_value.asString(), "~/.cjdnsadmin");
  EXPECT_EQ(r.keys[2].name, "timeout");
  EXPECT_EQ(r.keys[2].default_value.asInt64(), 2000);

  Json::Value section;
  for (const auto& k : r.keys) section[k.name] = k.default_value;
  Settings s = parse_settings(section);
  EXPECT_EQ(s.conf_file, "/etc/cjdroute.conf");
  EXPECT_EQ(s.admin_file, "~/.cjdnsadmin");
  EXPECT_EQ(s.timeout, std::chrono::milliseconds(2000));
}

}  // namespace
}  // namespace mnigs::cjdns
