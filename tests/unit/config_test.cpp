// Config validation: types, ranges, unknown keys with suggestions, YAML
// errors with line numbers, defaults, dumping, and edits that keep comments.
#include "config/config.hpp"
#include "config/config_edit.hpp"
#include "config/convert.hpp"
#include "config/startup.hpp"
#include "plugin_host/loader.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace mnigs {
namespace {

Schema core_schema() {
  Schema s;
  declare_core_keys(s);
  return s;
}

ParsedConfig parse(const std::string& text, const Schema& schema) {
  return validate(parse_yaml_text(text, "test.yaml"), schema, "test.yaml");
}

std::string errors_of(const ParsedConfig& p) {
  std::string out;
  for (const auto& i : p.issues)
    if (i.severity == ConfigIssue::Severity::error) out += i.message + "\n";
  return out;
}

std::string warnings_of(const ParsedConfig& p) {
  std::string out;
  for (const auto& i : p.issues)
    if (i.severity == ConfigIssue::Severity::warning) out += i.message + "\n";
  return out;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

TEST(Config, EmptyFileGivesEveryDefault) {
  auto schema = core_schema();
  auto p = parse("", schema);
  ASSERT_TRUE(p.ok());
  Config c("x", p.values);
  EXPECT_EQ(c.get_int("daemon", "rpcport"), 65533);
  EXPECT_FALSE(c.get_bool("gateway", "enabled"));
  EXPECT_EQ(c.get_list("daemon", "authorizedNetworks"),
            (std::vector<std::string>{"127.0.0.0/8", "::1/128"}));
  EXPECT_EQ(c.database_path(), "/var/lib/mnigs/mnigs.db");
}

TEST(Config, TypedValuesAreConverted) {
  auto schema = core_schema();
  auto p = parse(
      "gateway:\n  enabled: yes\n  maxConnections: 42\n"
      "daemon:\n  scanports: [65533, 65534]\n  authorizedNetworks:\n    - 10.0.0.0/8\n"
      "    - fd00::/8\n  listenIpv6: \"\"\ndatabase:\n  file: /srv/m.db\n",
      schema);
  ASSERT_TRUE(p.ok()) << errors_of(p);
  Config c("x", p.values);
  EXPECT_TRUE(c.get_bool("gateway", "enabled"));
  EXPECT_EQ(c.get_int("gateway", "maxConnections"), 42);
  EXPECT_EQ(c.get("daemon", "scanports")[1].asInt(), 65534);
  EXPECT_EQ(c.get_list("daemon", "authorizedNetworks"),
            (std::vector<std::string>{"10.0.0.0/8", "fd00::/8"}));
  EXPECT_EQ(c.get_string("daemon", "listenIpv6"), "");
  EXPECT_EQ(c.database_path(), "/srv/m.db");
}

TEST(Config, BadValueNamesKeyValueAndWhatIsAllowed) {
  auto schema = core_schema();
  auto p = parse("gateway:\n  maxConnections: ten\n", schema);
  ASSERT_FALSE(p.ok());
  std::string e = errors_of(p);
  EXPECT_NE(e.find("gateway.maxConnections"), std::string::npos) << e;
  EXPECT_NE(e.find("\"ten\""), std::string::npos) << e;
  EXPECT_NE(e.find("an integer from 1 to 100000"), std::string::npos) << e;
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
}

TEST(Config, OutOfRangeAndWrongShapesAreErrors) {
  auto schema = core_schema();
  EXPECT_FALSE(parse("daemon:\n  rpcport: 70000\n", schema).ok());
  EXPECT_FALSE(parse("daemon:\n  rpcport: [1]\n", schema).ok());
  EXPECT_FALSE(parse("daemon:\n  authorizedNetworks: [10.0.0.1/8]\n", schema).ok());
  EXPECT_FALSE(parse("daemon:\n  authorizedNetworks: [banana]\n", schema).ok());
  EXPECT_FALSE(parse("daemon:\n  listenIpv4: 300.1.1.1\n", schema).ok());
  EXPECT_FALSE(parse("daemon:\n  logLevel: loud\n", schema).ok());
  EXPECT_FALSE(parse("gateway: 5\n", schema).ok());
  EXPECT_FALSE(parse("- a\n- b\n", schema).ok());
}

TEST(Config, UnknownKeyWarnsWithNearestValidKey) {
  auto schema = core_schema();
  auto p = parse("gateway:\n  maxConnection: 5\n", schema);
  EXPECT_TRUE(p.ok());
  std::string w = warnings_of(p);
  EXPECT_NE(w.find("unknown key gateway.maxConnection"), std::string::npos) << w;
  EXPECT_NE(w.find("did you mean gateway.maxConnections"), std::string::npos) << w;
  // The misspelt key does not change anything.
  EXPECT_EQ(Config("x", p.values).get_int("gateway", "maxConnections"), 10);
}

TEST(Config, UnknownSectionWarnsWithNearestSection) {
  auto schema = core_schema();
  auto p = parse("gatway:\n  enabled: true\n", schema);
  EXPECT_TRUE(p.ok());
  EXPECT_NE(warnings_of(p).find("did you mean \"gateway\""), std::string::npos) << warnings_of(p);
}

TEST(Config, YamlSyntaxErrorNamesFileAndLine) {
  try {
    parse_yaml_text("main:\n  name: [unclosed\n", "/etc/mnigs/mnigs.yaml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("/etc/mnigs/mnigs.yaml"), std::string::npos) << m;
    EXPECT_NE(m.find("line"), std::string::npos) << m;
    EXPECT_NE(m.find("YAML syntax error"), std::string::npos) << m;
  }
}

TEST(Config, TextValuesFromCommandLine) {
  auto schema = core_schema();
  std::string why;
  auto ports = convert_text(*schema.find("daemon", "scanports"), "65533,65534", &why);
  ASSERT_TRUE(ports) << why;
  EXPECT_EQ(ports->size(), 2u);
  auto flow = convert_text(*schema.find("daemon", "scanports"), "[1, 2, 3]", &why);
  ASSERT_TRUE(flow) << why;
  EXPECT_EQ(flow->size(), 3u);
  EXPECT_TRUE(convert_text(*schema.find("gateway", "enabled"), "on", &why)->asBool());
  EXPECT_FALSE(convert_text(*schema.find("gateway", "enabled"), "maybe", &why));
  EXPECT_NE(why.find("true or false"), std::string::npos);
}

TEST(Config, ConfDefaultFileIsValidAndDocumentsEveryCoreKey) {
  // conf/mnigs.yaml is what users copy: it must parse without warnings and
  // list every core key.
  // With the shipped plugins loaded, so their sections are checked too.
  auto schema = core_schema();
  test::RecordingLogger log;
  load_plugin_libraries(MNIGS_PLUGIN_BUILD_DIR, {}, schema, log);
  std::string path = std::string(MNIGS_SOURCE_DIR) + "/conf/mnigs.yaml";
  auto p = validate(read_yaml_file(path), schema, path, /*all_sections_known=*/true);
  EXPECT_TRUE(p.ok()) << errors_of(p);
  EXPECT_EQ(warnings_of(p), "");
  YAML::Node root = read_yaml_file(path);
  for (const auto& s : schema.sections())
    for (const auto& k : s.keys)
      EXPECT_TRUE(root[s.name] && root[s.name][k.name]) << s.name << "." << k.name
                                                         << " is not in conf/mnigs.yaml";
}

TEST(Config, DumpListsEveryKeyAndParsesBack) {
  auto schema = core_schema();
  auto values = defaults(schema);
  values["gateway"]["maxConnections"] = 7;
  std::string dump = dump_config(schema, values, "x.yaml");
  for (const auto& key : schema.dotted_keys()) {
    auto dot = key.find('.');
    EXPECT_NE(dump.find("  " + key.substr(dot + 1) + ":"), std::string::npos) << key;
  }
  auto p = parse(dump, schema);
  ASSERT_TRUE(p.ok()) << errors_of(p);
  EXPECT_EQ(warnings_of(p), "");
  EXPECT_EQ(p.values, values);
}

TEST(ConfigEdit, BadChangeChangesNothing) {
  auto schema = core_schema();
  test::TempDir dir;
  std::string path = dir.file("m.yaml");
  std::ofstream(path) << "# keep me\ngateway:\n  enabled: false\n";
  std::vector<ConfigChange> changes;
  auto errors = resolve_changes(
      schema, {{"gateway.enabled", Json::Value("yes")}, {"gateway.maxConections", Json::Value(3)}},
      changes);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("did you mean gateway.maxConnections"), std::string::npos) << errors[0];
  errors = resolve_changes(schema, {{"daemon.rpcport", Json::Value("http")}}, changes);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("daemon.rpcport"), std::string::npos);
  EXPECT_EQ(read(path), "# keep me\ngateway:\n  enabled: false\n");
}

TEST(ConfigEdit, WriteKeepsCommentsAndValidates) {
  auto schema = core_schema();
  test::TempDir dir;
  std::string path = dir.file("m.yaml");
  std::ofstream(path) << "# keep me\ngateway:\n  enabled: false  # off for now\n";
  std::vector<ConfigChange> changes;
  ASSERT_TRUE(resolve_changes(schema,
                              {{"gateway.enabled", Json::Value("yes")},
                               {"daemon.scanports", Json::Value("65533,65534")}},
                              changes)
                  .empty());
  auto parsed = write_changes(path, schema, changes);
  EXPECT_TRUE(parsed.values["gateway"]["enabled"].asBool());
  std::string text = read(path);
  EXPECT_NE(text.find("# keep me"), std::string::npos) << text;
  EXPECT_NE(text.find("# off for now"), std::string::npos) << text;
  auto again = validate(read_yaml_file(path), schema, path);
  EXPECT_TRUE(again.values["gateway"]["enabled"].asBool());
  EXPECT_EQ(again.values["daemon"]["scanports"][1].asInt(), 65534);
}

TEST(ConfigEdit, FileWithOtherErrorsIsNotWritten) {
  auto schema = core_schema();
  test::TempDir dir;
  std::string path = dir.file("m.yaml");
  const std::string before = "gateway:\n  maxConnections: many\n";
  std::ofstream(path) << before;
  std::vector<ConfigChange> changes;
  ASSERT_TRUE(resolve_changes(schema, {{"gateway.enabled", Json::Value(true)}}, changes).empty());
  EXPECT_THROW(write_changes(path, schema, changes), ConfigError);
  EXPECT_EQ(read(path), before);
}

TEST(ConfigStartup, PluginSectionsAreValidatedAfterLoading) {
  test::TempDir dir;
  test::RecordingLogger log;
  std::string path = dir.file("m.yaml");
  std::ofstream(path) << "plugins:\n  dir: " << MNIGS_TEST_PLUGIN_DIR
                      << "\ngood:\n  limit: 99\n";
  try {
    load_startup_config(path, true, log);
    FAIL() << "an out-of-range plugin key was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("good.limit"), std::string::npos) << e.what();
  }
  std::ofstream(path) << "plugins:\n  dir: " << MNIGS_TEST_PLUGIN_DIR
                      << "\ngood:\n  greeting: hi\n";
  auto startup = load_startup_config(path, true, log);
  EXPECT_EQ(startup.values["good"]["greeting"].asString(), "hi");
  EXPECT_EQ(startup.values["good"]["limit"].asInt(), 3);
}

TEST(ConfigStartup, MissingFileIsAnErrorOnlyWhenRequired) {
  test::RecordingLogger log;
  EXPECT_THROW(load_startup_config("/nonexistent/mnigs.yaml", true, log), ConfigError);
  auto startup = load_startup_config("/nonexistent/mnigs.yaml", false, log);
  EXPECT_EQ(startup.path, "");
  EXPECT_TRUE(log.contains("built-in defaults"));
}

}  // namespace
}  // namespace mnigs
