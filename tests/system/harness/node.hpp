// One mnigsd running inside a namespace of a Topology, with its own scratch
// directory (/tmp/mnigs-<name>-XXXXXX) holding the generated config, the
// daemon's dataDir (database, admin.token) and its log.
//
//   Node a(topology, "a", NodeOptions().set("gateway", "enabled", "true"));
//   a.start();
//   a.wait_ready();
//   Json::Value info = a.rpc("nodeInfo");
#pragma once

#include <json/json.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/netns.hpp"
#include "harness/rpc_client.hpp"
#include "harness/topology.hpp"

namespace mnigs::test {

// section -> key -> YAML value text (quoted strings, numbers, [lists], ...).
using ConfigOverrides = std::map<std::string, std::map<std::string, std::string>>;

// The generated config disables the DHT (dht.enabled: false); tests about
// it set it to true.
struct NodeOptions {
  // Sets section.key to a YAML value text, e.g. set("gateway", "enabled", "true")
  // or set("static", "peers", "[\"10.77.1.2\"]"). Quote strings (yaml_quote).
  NodeOptions& set(const std::string& section, const std::string& key, const std::string& yaml) {
    config[section][key] = yaml;
    return *this;
  }
  // Disables every discovery plugin of this build but `name` (through
  // plugins.disabled), for tests about one network only: the others would
  // add their networks to the suites and their candidates to scans. The
  // plugins in `also` are disabled too.
  NodeOptions& only_discovery(const std::string& name, const std::vector<std::string>& also = {});
  // Appends raw YAML text (whole sections) after the generated ones.
  NodeOptions& append(const std::string& yaml) {
    extra_yaml += yaml;
    return *this;
  }

  // Merged over the generated config key by key; wins over the defaults.
  ConfigOverrides config;
  // Appended verbatim after the generated sections, for whole sections the
  // map cannot express. Must not repeat a section the map already emits.
  std::string extra_yaml;
  // Start mnigsd with -v (debug log).
  bool verbose = true;
};

// Quotes text as a YAML double-quoted scalar.
std::string yaml_quote(const std::string& text);

class Node {
 public:
  // Prepares node `name` of `topology` (which must outlive the Node); does
  // not start the daemon.
  Node(const Topology& topology, std::string name, NodeOptions options = {});
  // Same, for an explicitly named namespace.
  Node(std::string ns, std::string name, NodeOptions options = {});
  // Stops the daemon, prints the tail of its log if the test failed, and
  // removes the scratch directory.
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Writes the config and starts `mnigsd -f CONFIG [-v]` in the namespace.
  void start();
  // Polls nodeInfo on 127.0.0.1 until it answers (tries x interval at most).
  // Throws, with the log tail, if the daemon exits or never answers.
  void wait_ready(int tries = 100, std::chrono::milliseconds interval = 100ms);
  // start() then wait_ready().
  void launch();

  // SIGTERM, then wait up to `timeout` (SIGKILL after it). Returns the exit
  // code, 128 + signal if killed; the remembered code if not running.
  int stop(std::chrono::milliseconds timeout = 10s);
  // SIGKILL and reap. Returns 128 + 9, or the remembered code.
  int kill9();
  // True while the daemon process has not exited.
  bool running();
  // PID of the daemon, or -1 before start().
  pid_t pid() const { return pid_; }
  // The options the next start() uses; change them between stop() and start().
  NodeOptions& options() { return options_; }
  // Exit code of the last run, if it has ended.
  std::optional<int> exit_code() const { return exit_code_; }

  const std::string& name() const { return name_; }
  const std::string& ns() const { return ns_; }
  const std::string& dir() const { return dir_; }  // also the daemon's dataDir
  std::string config_path() const { return dir_ + "/mnigs.yaml"; }
  std::string log_path() const { return dir_ + "/mnigsd.log"; }
  int rpc_port() const;

  // The config file text start() writes.
  std::string config_text() const;
  // Contents of <dataDir>/admin.token, trimmed; throws if missing.
  std::string admin_token() const;
  // The daemon's whole log / its last `lines` lines.
  std::string log() const;
  std::string log_tail(size_t lines = 40) const;

  // Runs `mnigs-cli -f CONFIG ARGS...` inside the node's namespace.
  CommandResult cli(const std::vector<std::string>& args,
                    std::chrono::milliseconds timeout = 30s) const;

  // JSON-RPC call to this daemon over 127.0.0.1, from its own namespace.
  Json::Value rpc(const std::string& method,
                  const Json::Value& params = Json::Value(Json::objectValue),
                  const std::string& token = "") const;

 private:
  void reap_if_exited();

  std::string ns_;
  std::string name_;
  NodeOptions options_;
  std::string dir_;
  pid_t pid_ = -1;
  bool running_ = false;
  std::optional<int> exit_code_;
};

}  // namespace mnigs::test
