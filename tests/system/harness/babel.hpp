// The real Babel routing daemon (babeld) in the namespaces of a Topology, for
// the babel discovery tests and the scan benchmark.
//
//   Topology t = ...;  t.up();
//   BabelMesh mesh(t, {"gw1", "gw2"});   // one babeld per node; gw1, gw2 announce defaults
//   mesh.start();
//   double seconds = mesh.wait_converged(60s);  // every node routes to every node address
//   mesh.address("n4");                  // "10.78.0.4": n4's node address
//
// Addressing: the n-th node of the topology (from 1, in declaration order)
// gets the node address 10.78.0.n/32 and fd78::n/128 on its loopback
// interface; babeld runs on all its links ("to-*") and announces those two
// addresses and nothing else. Routes babeld installs prefer the node address
// as source, so a far node's reply finds its way back. A gateway also holds
// an unreachable default route (IPv4 and IPv6) that babeld announces, so the
// rest of the mesh learns 0.0.0.0/0 and ::/0 towards it; no namespace ever
// gets a route out of the mesh.
//
// babeld's local interface listens on [::1]:33123 in each namespace,
// read-only unless asked (dump and monitor work on the read-only one).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "harness/node.hpp"
#include "harness/topology.hpp"

namespace mnigs::test {

using namespace std::chrono_literals;

// Where babeld's local configuration interface listens (on ::1).
inline constexpr int babel_local_port = 33123;

// Node address of the index-th node (1..254): "10.78.0.<index>" / "fd78::<index>".
std::string babel_address(int index);
std::string babel_address6(int index);

struct BabelOptions {
  // Announce a default route (0.0.0.0/0 and ::/0) into the mesh.
  bool gateway = false;
  // Open the local interface read-write (babeld's local-port-readwrite)
  // instead of read-only.
  bool read_write = false;
  int local_port = babel_local_port;
  // Hello interval on every link; full updates go out every 4 hellos. The
  // defaults (4 s / 16 s) make a mesh take tens of seconds to converge.
  std::chrono::milliseconds hello_interval = 500ms;
  // babeld debug level (-d).
  int debug = 0;
  // Appended verbatim to the generated config, one directive a line.
  std::string extra_config;
};

// One babeld in the namespace of a Topology node, with its config, state
// file, pid file and log in a scratch directory (/tmp/mnigs-babel-NAME-XXXXXX)
// that the Reaper removes should the test die.
class Babeld {
 public:
  // Prepares babeld for `node` of `topology` (which must outlive it) as node
  // number `index` (1..254, selects the node address); does not start it.
  Babeld(const Topology& topology, std::string node, int index, BabelOptions options = {});
  // Stops babeld and removes the scratch directory.
  ~Babeld();
  Babeld(const Babeld&) = delete;
  Babeld& operator=(const Babeld&) = delete;

  // Puts the node address on lo (and the gateway's unreachable default
  // routes), writes the config for every "to-*" link of the node, starts
  // babeld and waits until its local interface greets. Throws, with the log
  // tail, if babeld exits or does not answer within `timeout`.
  void start(std::chrono::milliseconds timeout = 5s);
  // The steps of start(), for starting many at once: prepare() sets up the
  // namespace and writes the config, launch() starts babeld without waiting,
  // wait_ready() waits until its local interface greets.
  void prepare();
  void launch();
  void wait_ready(std::chrono::milliseconds timeout = 5s);
  // SIGTERM (babeld retracts its routes and exits), SIGKILL after `timeout`.
  // Returns the exit code (128 + signal if killed), -1 if it was not running.
  int stop(std::chrono::milliseconds timeout = 5s);
  // Sends SIGTERM and returns at once; a later stop() collects the exit.
  // Lets a whole mesh shut down in parallel.
  void request_stop();
  bool running();
  pid_t pid() const { return pid_; }

  // Sends one request line over the local interface (e.g. "dump") and
  // returns the lines babeld answered, without the final "ok"; an empty
  // request returns the greeting ("BABEL 1.0", "version ...", "my-id ...").
  // Throws std::runtime_error on connection trouble, on an answer of "no"
  // or "bad", or after `timeout`.
  std::string local_request(const std::string& request,
                            std::chrono::milliseconds timeout = 3s) const;
  // babeld's router id as its local interface reports it (EUI-64 form,
  // e.g. "02:78:00:ff:fe:00:00:03" for node 3).
  std::string router_id() const;

  const std::string& node() const { return node_; }
  const std::string& ns() const { return ns_; }
  int index() const { return index_; }
  std::string address() const { return babel_address(index_); }
  std::string address6() const { return babel_address6(index_); }
  const BabelOptions& options() const { return options_; }
  const std::string& dir() const { return dir_; }
  std::string config_path() const { return dir_ + "/babeld.conf"; }
  std::string log_path() const { return dir_ + "/babeld.log"; }
  // The config start() writes, for the node's current links.
  std::string config_text() const;
  std::string log_tail(size_t lines = 30) const;

 private:
  std::vector<std::string> links() const;
  void prepare_namespace() const;

  const Topology& topology_;
  std::string node_;
  std::string ns_;
  int index_;
  BabelOptions options_;
  std::string dir_;
  pid_t pid_ = -1;
  bool running_ = false;
};

// Routes namespace `ns` lacks among `destinations`, counting only routes
// babeld installed (proto babel). A destination is an address ("10.78.0.3",
// "fd78::3") or a default route ("0.0.0.0/0", "::/0").
std::vector<std::string> missing_babel_routes(const std::string& ns,
                                              const std::vector<std::string>& destinations);

// Polls missing_babel_routes every `interval` until nothing is missing or
// `timeout` passes; returns what is still missing (empty on success).
std::vector<std::string> wait_for_babel_routes(const std::string& ns,
                                               const std::vector<std::string>& destinations,
                                               std::chrono::milliseconds timeout,
                                               std::chrono::milliseconds interval = 100ms);

// Polls listPlugins on `node` until its babel discovery plugin reports (in
// its status, "nodes") at least `count` nodes it could have probed; returns
// the last count seen (-1 if the plugin never answered), which is below
// `count` only when `timeout` passed. Kernel routes appear a moment before
// babeld tells its monitor clients about them, so a scan should wait for this.
int wait_for_babel_plugin(const Node& node, int count, std::chrono::milliseconds timeout = 10s);

// One babeld on every node of a topology; node number i+1 for the i-th node.
class BabelMesh {
 public:
  // `gateways` names the nodes that announce a default route; `base` are
  // the options of every babeld (gateway is set per node).
  BabelMesh(const Topology& topology, std::set<std::string> gateways = {},
            BabelOptions base = {});
  // Stops every babeld.
  ~BabelMesh();
  BabelMesh(const BabelMesh&) = delete;
  BabelMesh& operator=(const BabelMesh&) = delete;

  // Prepares every node, launches every babeld, then waits for each local
  // interface.
  void start();
  // Stops every babeld, all at once.
  void stop();
  // Waits until every node has babel routes to every other node's IPv4 and
  // IPv6 address and, when the mesh has gateways, every other node has both
  // default routes. Returns the seconds since start() launched the
  // babelds (after preparing every node, which takes longer). Throws
  // std::runtime_error, listing what each node still lacks, after `timeout`.
  double wait_converged(std::chrono::milliseconds timeout = 60s);
  // The routes wait_converged() expects `node` to have.
  std::vector<std::string> expected_routes(const std::string& node) const;

  Babeld& babeld(const std::string& node);
  int index(const std::string& node) const;
  std::string address(const std::string& node) const { return babel_address(index(node)); }
  std::string address6(const std::string& node) const { return babel_address6(index(node)); }
  bool is_gateway(const std::string& node) const { return gateways_.count(node) > 0; }
  const std::set<std::string>& gateways() const { return gateways_; }

 private:
  const Topology& topology_;
  std::set<std::string> gateways_;
  std::map<std::string, std::unique_ptr<Babeld>> daemons_;
  std::chrono::steady_clock::time_point started_{};
};

}  // namespace mnigs::test
