// Text edits of the YAML config: rendering values, changing one key while
// every other byte stays, refusing layouts that cannot be edited safely.
#include "config/yaml_edit.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace mnigs {
namespace {

// Reads a node back the way a YAML 1.1 reader types plain scalars, so that a
// rendering of "yes" that comes back as a bool is caught.
Json::Value read_back(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: {
      Json::Value out(Json::arrayValue);
      for (const auto& item : node) out.append(read_back(item));
      return out;
    }
    case YAML::NodeType::Map: {
      Json::Value out(Json::objectValue);
      for (auto it = node.begin(); it != node.end(); ++it)
        out[it->first.as<std::string>()] = read_back(it->second);
      return out;
    }
    case YAML::NodeType::Scalar: {
      if (node.Tag() == "!") return Json::Value(node.Scalar());  // quoted: always a string
      bool b;
      if (YAML::convert<bool>::decode(node, b)) return Json::Value(b);
      std::int64_t i;
      if (YAML::convert<std::int64_t>::decode(node, i)) return Json::Value(Json::Int64(i));
      std::uint64_t u;
      if (YAML::convert<std::uint64_t>::decode(node, u)) return Json::Value(Json::UInt64(u));
      double d;
      if (YAML::convert<double>::decode(node, d)) return Json::Value(d);
      return Json::Value(node.Scalar());
    }
    default:
      return Json::Value();
  }
}

Json::Value round_trip(const Json::Value& v) { return read_back(YAML::Load(render_yaml_value(v))); }

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string error_of(std::string_view text, std::string_view section, std::string_view key,
                     std::string_view value) {
  try {
    set_yaml_value(text, section, key, value);
  } catch (const YamlEditError& e) {
    return e.what();
  }
  return "";
}

// ---------------------------------------------------------------------------
// render_yaml_value

TEST(YamlRender, Scalars) {
  EXPECT_EQ(render_yaml_value(Json::Value(true)), "true");
  EXPECT_EQ(render_yaml_value(Json::Value(false)), "false");
  EXPECT_EQ(render_yaml_value(Json::Value(0)), "0");
  EXPECT_EQ(render_yaml_value(Json::Value(65533)), "65533");
  EXPECT_EQ(render_yaml_value(Json::Value(-7)), "-7");
  EXPECT_EQ(render_yaml_value(Json::Value(Json::Int64(std::numeric_limits<std::int64_t>::min()))),
            "-9223372036854775808");
  EXPECT_EQ(render_yaml_value(Json::Value(Json::UInt64(std::numeric_limits<std::uint64_t>::max()))),
            "18446744073709551615");
  EXPECT_EQ(render_yaml_value(Json::Value(1.5)), "1.5");
  EXPECT_EQ(render_yaml_value(Json::Value(2.0)), "2.0");
  EXPECT_EQ(render_yaml_value(Json::Value(1e20)), "1.0e+20");
  EXPECT_EQ(render_yaml_value(Json::Value(std::nan(""))), ".nan");
  EXPECT_EQ(render_yaml_value(Json::Value(-HUGE_VAL)), "-.inf");
  EXPECT_EQ(render_yaml_value(Json::Value()), "null");

  for (const Json::Value& v :
       {Json::Value(true), Json::Value(false), Json::Value(0), Json::Value(65533), Json::Value(-7),
        Json::Value(Json::Int64(std::numeric_limits<std::int64_t>::min())),
        Json::Value(Json::UInt64(std::numeric_limits<std::uint64_t>::max())), Json::Value(1.5),
        Json::Value(2.0), Json::Value(-0.25), Json::Value(1e20), Json::Value(HUGE_VAL),
        Json::Value()})
    EXPECT_EQ(round_trip(v), v) << render_yaml_value(v);
}

TEST(YamlRender, StringsArePlainOnlyWhenSafe) {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"mnigs", "mnigs"},
      {"default", "default"},
      {"/var/lib/mnigs", "/var/lib/mnigs"},
      {"mesh node 7", "mesh node 7"},
      {"a.b-c_d+e@f%g=h~i", "a.b-c_d+e@f%g=h~i"},
      {"", "\"\""},
      {"yes", "\"yes\""},
      {"No", "\"No\""},
      {"ON", "\"ON\""},
      {"off", "\"off\""},
      {"y", "\"y\""},
      {"n", "\"n\""},
      {"true", "\"true\""},
      {"False", "\"False\""},
      {"null", "\"null\""},
      {"~", "\"~\""},
      {"123", "\"123\""},
      {"1.5", "\"1.5\""},
      {"0x1F", "\"0x1F\""},
      {"-1", "\"-1\""},
      {".inf", "\".inf\""},
      {"1e3", "\"1e3\""},
      {"a: b", "\"a: b\""},
      {"a:b", "\"a:b\""},
      {"a:", "\"a:\""},
      {"#x", "\"#x\""},
      {"a #b", "\"a #b\""},
      {" x", "\" x\""},
      {"x ", "\"x \""},
      {"it's", "\"it's\""},
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"back\\slash", "\"back\\\\slash\""},
      {"::1/128", "\"::1/128\""},
      {"127.0.0.0/8", "\"127.0.0.0/8\""},
      {"- x", "\"- x\""},
      {"[a]", "\"[a]\""},
      {"{a}", "\"{a}\""},
      {"a, b", "\"a, b\""},
      {"&x", "\"&x\""},
      {"*x", "\"*x\""},
      {"!x", "\"!x\""},
      {"|", "\"|\""},
      {">", "\">\""},
      {"%x", "\"%x\""},
      {"@x", "\"@x\""},
      {"`x", "\"`x\""},
      {"?x", "\"?x\""},
      {"<<", "\"<<\""},
      {"=", "\"=\""},
      {"line\nbreak", "\"line\\nbreak\""},
      {"tab\there", "\"tab\\there\""},
      {std::string("nul\0byte", 8), "\"nul\\0byte\""},
      {"bell\x07", "\"bell\\x07\""},
      {"Caf\xC3\xA9", "\"Caf\xC3\xA9\""},
      {"next\xC2\x85line", "\"next\\x85line\""},
      {"line\xE2\x80\xA8sep", "\"line\\Lsep\""},
      {"para\xE2\x80\xA9sep", "\"para\\Psep\""},
      {"\xEF\xBB\xBF"
       "bom",
       "\"\\uFEFFbom\""},
  };
  for (const auto& c : cases) {
    Json::Value v(c.in);
    EXPECT_EQ(render_yaml_value(v), c.out) << c.in;
    EXPECT_EQ(round_trip(v), v) << c.in << " rendered as " << render_yaml_value(v);
  }
}

TEST(YamlRender, ArraysAndObjectsAreFlow) {
  Json::Value empty(Json::arrayValue);
  EXPECT_EQ(render_yaml_value(empty), "[]");
  EXPECT_EQ(round_trip(empty), empty);

  Json::Value ports(Json::arrayValue);
  ports.append(65533);
  ports.append(65534);
  EXPECT_EQ(render_yaml_value(ports), "[65533, 65534]");
  EXPECT_EQ(round_trip(ports), ports);

  Json::Value nets(Json::arrayValue);
  nets.append("127.0.0.0/8");
  nets.append("::1/128");
  EXPECT_EQ(render_yaml_value(nets), "[\"127.0.0.0/8\", \"::1/128\"]");
  EXPECT_EQ(round_trip(nets), nets);

  Json::Value tricky(Json::arrayValue);
  for (const char* s : {"a, b", "c]", "{d}", "yes", "", "static", "e: f", "#g"}) tricky.append(s);
  Json::Value nested(Json::arrayValue);
  nested.append(true);
  nested.append(Json::Value(Json::arrayValue));
  tricky.append(nested);
  EXPECT_EQ(round_trip(tricky), tricky) << render_yaml_value(tricky);

  Json::Value obj(Json::objectValue);
  obj["name"] = "x";
  obj["on"] = 3;
  obj["list"] = nets;
  EXPECT_EQ(render_yaml_value(obj), "{list: [\"127.0.0.0/8\", \"::1/128\"], name: x, \"on\": 3}");
  EXPECT_EQ(round_trip(obj), obj);
}

// ---------------------------------------------------------------------------
// set_yaml_value

const std::string kConfig =
    "# mnigs configuration\n"
    "\n"
    "main:\n"
    "  # Name shown to other nodes\n"
    "  name: \"mnigs\"        # trailing comment\n"
    "\n"
    "daemon:\n"
    "  rpcport: 65533\n"
    "  scanports: [65533, 65534]\n"
    "  authorizedNetworks:\n"
    "    - 127.0.0.0/8\n"
    "    # the loopback of IPv6\n"
    "    - ::1/128\n"
    "  # Directory for state\n"
    "  dataDir: /var/lib/mnigs\n"
    "\n"
    "# ---- plugin sections ----\n"
    "\n"
    "# discovery/static\n"
    "static:\n"
    "  peers: []\n";

TEST(YamlSet, ReplacesScalarKeepingEverythingElse) {
  std::string out = set_yaml_value(kConfig, "main", "name", "gw-7");
  std::string want = kConfig;
  want.replace(want.find("\"mnigs\"        #"), 7, "gw-7");
  EXPECT_EQ(out, want);

  out = set_yaml_value(kConfig, "daemon", "rpcport", "1234");
  want = kConfig;
  want.replace(want.find("65533\n"), 5, "1234");
  EXPECT_EQ(out, want);

  out = set_yaml_value(kConfig, "daemon", "scanports", "[1, 2, 3]");
  want = kConfig;
  want.replace(want.find("[65533, 65534]"), 14, "[1, 2, 3]");
  EXPECT_EQ(out, want);
}

TEST(YamlSet, ReplacesBlockSequenceWithFlow) {
  std::string out = set_yaml_value(kConfig, "daemon", "authorizedNetworks", "[\"10.0.0.0/8\"]");
  std::string want = kConfig;
  auto from = want.find("  authorizedNetworks:\n");
  auto to = want.find("  # Directory for state");
  want.replace(from, to - from, "  authorizedNetworks: [\"10.0.0.0/8\"]\n");
  EXPECT_EQ(out, want);
  auto node = YAML::Load(out);
  EXPECT_EQ(node["daemon"]["authorizedNetworks"][0].as<std::string>(), "10.0.0.0/8");
  EXPECT_EQ(node["daemon"]["dataDir"].as<std::string>(), "/var/lib/mnigs");
}

TEST(YamlSet, ReplacesSequenceAtKeyIndentAndKeepsKeyComment) {
  const std::string text =
      "daemon:\n"
      "  nets:   # who may connect\n"
      "  - 127.0.0.0/8\n"
      "  - ::1/128\n"
      "  rpcport: 1\n";
  EXPECT_EQ(set_yaml_value(text, "daemon", "nets", "[]"),
            "daemon:\n"
            "  nets: []   # who may connect\n"
            "  rpcport: 1\n");
}

TEST(YamlSet, ReplacesBlockScalarAndMultiLineValues) {
  const std::string text =
      "main:\n"
      "  motd: |\n"
      "    hello\n"
      "    world\n"
      "  # the node's name\n"
      "  name: a long\n"
      "    folded name\n"
      "other:\n"
      "  x: 1\n";
  EXPECT_EQ(set_yaml_value(text, "main", "motd", "hi"),
            "main:\n"
            "  motd: hi\n"
            "  # the node's name\n"
            "  name: a long\n"
            "    folded name\n"
            "other:\n"
            "  x: 1\n");
  EXPECT_EQ(set_yaml_value(text, "main", "name", "short"),
            "main:\n"
            "  motd: |\n"
            "    hello\n"
            "    world\n"
            "  # the node's name\n"
            "  name: short\n"
            "other:\n"
            "  x: 1\n");
}

TEST(YamlSet, CommentCharactersInsideValuesAreNotComments) {
  const std::string text =
      "main:\n"
      "  a: \"x # y\"  # real\n"
      "  b: ['#', \"it's\"] # real\n"
      "  c: it's#not # real\n";
  EXPECT_EQ(set_yaml_value(text, "main", "a", "1"),
            "main:\n  a: 1  # real\n  b: ['#', \"it's\"] # real\n  c: it's#not # real\n");
  EXPECT_EQ(set_yaml_value(text, "main", "b", "[]"),
            "main:\n  a: \"x # y\"  # real\n  b: [] # real\n  c: it's#not # real\n");
  EXPECT_EQ(set_yaml_value(text, "main", "c", "x"),
            "main:\n  a: \"x # y\"  # real\n  b: ['#', \"it's\"] # real\n  c: x # real\n");
}

TEST(YamlSet, AddsKeyAtTheEndOfItsSection) {
  std::string out = set_yaml_value(kConfig, "daemon", "threads", "4");
  std::string want = kConfig;
  want.insert(want.find("\n# ---- plugin"), "  threads: 4\n");
  EXPECT_EQ(out, want);
  auto node = YAML::Load(out);
  EXPECT_EQ(node["daemon"]["threads"].as<int>(), 4);
  EXPECT_FALSE(node["static"]["threads"]);
  EXPECT_EQ(node["daemon"].size(), 5u);

  out = set_yaml_value(kConfig, "main", "enabled", "yes");
  want = kConfig;
  want.insert(want.find("\ndaemon:"), "  enabled: yes\n");
  EXPECT_EQ(out, want);
}

TEST(YamlSet, AddedKeyUsesTheSectionsIndentation) {
  const std::string text = "gateway:\n    enabled: false\n    # more later\n# top comment\n";
  EXPECT_EQ(set_yaml_value(text, "gateway", "maxConnections", "10"),
            "gateway:\n    enabled: false\n    # more later\n    maxConnections: 10\n"
            "# top comment\n");
}

TEST(YamlSet, EmptySectionGetsItsFirstKey) {
  const std::string text = "gateway:   # nothing yet\n  # enabled: true\n\nother:\n  a: 1\n";
  EXPECT_EQ(set_yaml_value(text, "gateway", "enabled", "true"),
            "gateway:   # nothing yet\n  # enabled: true\n  enabled: true\n\nother:\n  a: 1\n");
}

TEST(YamlSet, SectionLineMayCarryAComment) {
  const std::string text = "main:  # the main section\n  name: x\n";
  EXPECT_EQ(set_yaml_value(text, "main", "note", "\"\""),
            "main:  # the main section\n  name: x\n  note: \"\"\n");
}

TEST(YamlSet, AddsMissingSectionAtTheEnd) {
  EXPECT_EQ(set_yaml_value("main:\n  name: x\n", "gateway", "enabled", "true"),
            "main:\n  name: x\n\ngateway:\n  enabled: true\n");
  EXPECT_EQ(set_yaml_value("main:\n  name: x\n\n", "gateway", "enabled", "true"),
            "main:\n  name: x\n\ngateway:\n  enabled: true\n");
  EXPECT_EQ(set_yaml_value("main:\n  name: x", "gateway", "enabled", "true"),
            "main:\n  name: x\n\ngateway:\n  enabled: true\n");
  EXPECT_EQ(set_yaml_value(kConfig, "gateway", "enabled", "true"),
            kConfig + "\ngateway:\n  enabled: true\n");
}

TEST(YamlSet, EmptyOrCommentOnlyText) {
  EXPECT_EQ(set_yaml_value("", "gateway", "enabled", "true"), "gateway:\n  enabled: true\n");
  EXPECT_EQ(set_yaml_value("# nothing here\n", "gateway", "enabled", "true"),
            "# nothing here\n\ngateway:\n  enabled: true\n");
  EXPECT_EQ(set_yaml_value("\n\n", "gateway", "enabled", "true"),
            "\n\ngateway:\n  enabled: true\n");
}

TEST(YamlSet, QuotedKeysAndNames) {
  const std::string text = "\"main\":\n  \"name\": x\n  'rpc ''port''': 1\n";
  EXPECT_EQ(set_yaml_value(text, "main", "name", "y"),
            "\"main\":\n  \"name\": y\n  'rpc ''port''': 1\n");
  EXPECT_EQ(set_yaml_value(text, "main", "rpc 'port'", "2"),
            "\"main\":\n  \"name\": x\n  'rpc ''port''': 2\n");
  EXPECT_EQ(set_yaml_value(text, "main", "on", "3"),
            "\"main\":\n  \"name\": x\n  'rpc ''port''': 1\n  \"on\": 3\n");
  EXPECT_EQ(set_yaml_value("", "my section", "a: b", "3"), "my section:\n  \"a: b\": 3\n");
}

TEST(YamlSet, CrlfLineEndsArePreserved) {
  const std::string text = "# c\r\nmain:\r\n  name: x  # n\r\n\r\nother:\r\n  list:\r\n  - a\r\n";
  EXPECT_EQ(set_yaml_value(text, "main", "name", "y"),
            "# c\r\nmain:\r\n  name: y  # n\r\n\r\nother:\r\n  list:\r\n  - a\r\n");
  EXPECT_EQ(set_yaml_value(text, "main", "new", "1"),
            "# c\r\nmain:\r\n  name: x  # n\r\n  new: 1\r\n\r\nother:\r\n  list:\r\n  - a\r\n");
  EXPECT_EQ(set_yaml_value(text, "other", "list", "[b]"),
            "# c\r\nmain:\r\n  name: x  # n\r\n\r\nother:\r\n  list: [b]\r\n");
  EXPECT_EQ(set_yaml_value(text, "gateway", "enabled", "true"),
            text + "\r\ngateway:\r\n  enabled: true\r\n");
}

TEST(YamlSet, DocumentMarkersAndBomAreKept) {
  const std::string text = "%YAML 1.2\n---  # start\nmain:\n  name: x\n...\n# after the end\n";
  EXPECT_EQ(set_yaml_value(text, "main", "name", "y"),
            "%YAML 1.2\n---  # start\nmain:\n  name: y\n...\n# after the end\n");
  EXPECT_EQ(set_yaml_value(text, "gateway", "enabled", "true"),
            "%YAML 1.2\n---  # start\nmain:\n  name: x\n\ngateway:\n  enabled: true\n...\n"
            "# after the end\n");
  EXPECT_EQ(set_yaml_value("---\n", "gateway", "enabled", "true"),
            "---\ngateway:\n  enabled: true\n");
  const std::string bom = "\xEF\xBB\xBFmain:\n  name: x\n";
  EXPECT_EQ(set_yaml_value(bom, "main", "name", "y"), "\xEF\xBB\xBFmain:\n  name: y\n");
}

TEST(YamlSet, EmptyValueAndNoFinalNewline) {
  EXPECT_EQ(set_yaml_value("main:\n  name: x # c", "main", "name", ""), "main:\n  name: # c");
  EXPECT_EQ(set_yaml_value("main:\n  list:\n  - a", "main", "list", "[]"), "main:\n  list: []");
  EXPECT_EQ(set_yaml_value("main:\n  name: x", "main", "other", "1"),
            "main:\n  name: x\n  other: 1\n");
}

TEST(YamlSet, RefusesWhatItCannotEditSafely) {
  EXPECT_NE(
      error_of("gateway: {enabled: false}\n", "gateway", "enabled", "true").find("flow style"),
      std::string::npos);
  EXPECT_NE(
      error_of("gateway:\n  {enabled: false}\n", "gateway", "enabled", "true").find("flow style"),
      std::string::npos);
  EXPECT_NE(
      error_of("{gateway: {enabled: false}}\n", "gateway", "enabled", "true").find("flow style"),
      std::string::npos);
  EXPECT_NE(error_of("gateway: 1\n", "gateway", "enabled", "true").find("not a block mapping"),
            std::string::npos);
  EXPECT_NE(error_of("gateway: ~\n", "gateway", "enabled", "true").find("not a block mapping"),
            std::string::npos);
  EXPECT_NE(error_of("gateway:\n  - a\n", "gateway", "enabled", "true").find("sequence"),
            std::string::npos);
  EXPECT_NE(error_of("- a\n", "gateway", "enabled", "true").find("top level"), std::string::npos);
  EXPECT_NE(error_of("just text\n", "gateway", "enabled", "true").find("top level"),
            std::string::npos);

  std::string dup = error_of("gateway:\n  enabled: false\n  enabled: true\n", "gateway", "x", "1");
  EXPECT_NE(dup.find("appears twice"), std::string::npos) << dup;
  EXPECT_NE(dup.find("lines 2 and 3"), std::string::npos) << dup;
  EXPECT_NE(
      error_of("gateway:\n  a: 1\ngateway:\n  b: 2\n", "gateway", "a", "2").find("appears twice"),
      std::string::npos);

  std::string tab = error_of("gateway:\n\tenabled: false\n", "gateway", "enabled", "true");
  EXPECT_FALSE(tab.empty());
  tab = error_of("gateway:\n  enabled: false\n  list:\n  \t- a\n", "gateway", "enabled", "true");
  EXPECT_NE(tab.find("tab"), std::string::npos) << tab;

  EXPECT_NE(
      error_of("gateway: &g\n  enabled: false\n", "gateway", "enabled", "true").find("anchor"),
      std::string::npos);
  EXPECT_NE(
      error_of("a: &x 1\ngateway:\n  enabled: *x\n", "gateway", "enabled", "true").find("anchor"),
      std::string::npos);
  EXPECT_NE(
      error_of("a: &x 1\ngateway:\n  enabled: &y 1\n", "gateway", "enabled", "true").find("anchor"),
      std::string::npos);
  EXPECT_NE(error_of("base: &b\n  x: 1\ngateway:\n  <<: *b\n  enabled: false\n", "gateway",
                     "enabled", "true")
                .find("merge"),
            std::string::npos);

  EXPECT_NE(error_of("a: [1\n", "a", "b", "1").find("not valid YAML"), std::string::npos);
  EXPECT_NE(error_of("a:\n  b: 1\n---\nc:\n  d: 2\n", "a", "b", "2").find("more than one"),
            std::string::npos);
  EXPECT_NE(error_of("a:\n  b: 1\n", "a", "b", "[1").find("not valid YAML"), std::string::npos);
  EXPECT_NE(error_of("a:\n  b: 1\n", "a", "b", "x\ny").find("single line"), std::string::npos);
  EXPECT_NE(error_of("a:\n  b: 1\n", "", "b", "1").find("empty"), std::string::npos);
}

TEST(YamlSet, MultiLineValueThatLooksLikeAKeyIsRefused) {
  // "b: 1" on line 3 is the end of a quoted scalar, not a section.
  const std::string text = "a:\n  m: \"x\nb: 1\"\n";
  EXPECT_NE(error_of(text, "b", "c", "1").find("multi-line"), std::string::npos);
  EXPECT_NE(error_of(text, "a", "m", "1").find("multi-line"), std::string::npos);
}

TEST(YamlSet, ResultIsCheckedBeforeItIsReturned) {
  // The new key would land between the block scalar and the blank lines that
  // "|+" keeps as part of it; the check notices that m would change.
  const std::string keep = "a:\n  m: |+\n    x\n\n\nb: 1\n";
  std::string err = error_of(keep, "a", "n", "1");
  EXPECT_NE(err.find("would also change a.m"), std::string::npos) << err;
  // A value that is fine alone but not after a key.
  err = error_of("a:\n  b: 1\n", "a", "b", "c: d");
  EXPECT_FALSE(err.empty());
  err = error_of("a:\n  b: 1\n", "a", "b", "- x");
  EXPECT_FALSE(err.empty());
  // A block scalar header would swallow the comment below as its content.
  err = error_of("a:\n  b: 1\n    # note\n", "a", "b", "|");
  EXPECT_NE(err.find("new value of a.b"), std::string::npos) << err;
}

TEST(YamlSet, EveryRenderedValueCanBeWritten) {
  Json::Value values(Json::arrayValue);
  for (const char* s : {"yes", "", "a: b", "#x", " x", "it's", "::1/128", "plain"})
    values.append(s);
  values.append(true);
  values.append(-3);
  Json::Value list(Json::arrayValue);
  list.append("127.0.0.0/8");
  list.append("::1/128");
  values.append(list);
  for (const auto& v : values) {
    std::string out = set_yaml_value(kConfig, "daemon", "rpcport", render_yaml_value(v));
    EXPECT_EQ(read_back(YAML::Load(out)["daemon"]["rpcport"]), v) << out;
    out = set_yaml_value(kConfig, "daemon", "fresh", render_yaml_value(v));
    EXPECT_EQ(read_back(YAML::Load(out)["daemon"]["fresh"]), v) << out;
  }
}

#ifdef MNIGS_SOURCE_DIR
TEST(YamlSet, ShippedConfigCanBeEdited) {
  const std::string text = read_file(std::string(MNIGS_SOURCE_DIR) + "/conf/mnigs.yaml");
  ASSERT_FALSE(text.empty());
  std::string out = set_yaml_value(text, "gateway", "enabled", "true");
  out = set_yaml_value(out, "daemon", "scanports", "[65533, 65534]");
  out = set_yaml_value(out, "plugins", "extra", "x");
  out = set_yaml_value(out, "newsection", "k", "1");
  auto before = YAML::Load(text), after = YAML::Load(out);
  EXPECT_TRUE(after["gateway"]["enabled"].as<bool>());
  EXPECT_EQ(after["daemon"]["scanports"][1].as<int>(), 65534);
  EXPECT_EQ(after["plugins"]["extra"].as<std::string>(), "x");
  EXPECT_EQ(after["newsection"]["k"].as<int>(), 1);
  // Every comment line survives.
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.find('#') != std::string::npos && line.find("scanports") == std::string::npos) {
      EXPECT_NE(out.find(line), std::string::npos) << line;
    }
  }
}
#endif

}  // namespace
}  // namespace mnigs
