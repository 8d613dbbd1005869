// Sessions end to end, with the forwarding tunnel: a subscriber reaches a
// host "on the Internet" through a gateway only while it holds a session;
// the session is renewed while the subscriber lives and expires when it
// stops; both ends survive kill -9; a full gateway, wrong secrets and wrong
// callers are refused without side effects; bad input changes nothing.
//
//   inet ---- gw ---- sub          link 1: 10.77.1.0/24 (inet .1, gw .2)
//              \                   link 2: 10.77.2.0/24 (gw .1, sub .2)
//               `---- sub2         link 3: 10.77.3.0/24 (gw .1, sub2 .2), where needed
//
// "inet" runs no mnigsd, only an HTTP server that reports the source address
// it saw. gw's uplink is its interface to inet; no namespace has a default
// route, so sub can reach inet only through mnigs's routes and the gateway's
// forwarding.
#include <signal.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <thread>

#include "harness/http_echo.hpp"
#include "harness/system_test.hpp"
#include "harness/wait.hpp"

namespace mnigs::test {
namespace {

// The suite of the shipped plugins discovery/static, tunnel/forwarding and
// payment/free.
const std::string kSuite = "static-forwarding-free";
// forwarding.table and forwarding.priority defaults: the subscriber's default
// route via the gateway lives in table 65533, reached through the rules at
// 31000 (main, suppress_prefixlength 0) and 31001 (lookup 65533).
constexpr int kTable = 65533;
constexpr int kPriority = 31000;
constexpr int kWebPort = 80;


std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find_first_not_of(" \t") != std::string::npos) lines.push_back(line);
  return lines;
}

std::string trimmed(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Keeps a daemon stopped (SIGSTOP) and lets it go on (SIGCONT) at the latest
// when it goes out of scope, so a failed assertion never leaves it frozen.
class Frozen {
 public:
  explicit Frozen(pid_t pid) : pid_(pid) {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  ~Frozen() { thaw(); }
  Frozen(const Frozen&) = delete;
  Frozen& operator=(const Frozen&) = delete;
  void thaw() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
    pid_ = -1;
  }

 private:
  pid_t pid_;
};

class Sessions : public SystemTest {
 protected:
  // Builds inet — gw — sub (and gw — sub2), starts the web server on inet,
  // and prepares (not starts) the daemons of gw, sub (and sub2).
  void build(NodeOptions gateway, bool second_subscriber = false) {
    topology_.node("inet").node("gw").node("sub");
    if (second_subscriber) topology_.node("sub2");
    topology_.link("inet", "gw").link("gw", "sub");
    if (second_subscriber) topology_.link("gw", "sub2");
    topology_.up();
    // The Internet host can answer any test address through the gateway, so
    // whether a subscriber gets out is decided by the gateway's rules alone
    // (without masquerading inet would still answer, and say so).
    run_checked({"ip", "route", "add", "10.77.0.0/16", "via", topology_.address("gw", "inet")},
                topology_.ns("inet"));
    web_ =
        std::make_unique<HttpEcho>(topology_.ns("inet"), topology_.address("inet", "gw"), kWebPort);

    // The gateway's uplink is its interface to inet.
    gateway.set("forwarding", "uplink", yaml_quote(topology_.interface("gw", "inet")));
    gw_ = std::make_unique<Node>(topology_, "gw", std::move(gateway));
    // Static discovery only: the suites are then exactly kSuite.
    sub_ = std::make_unique<Node>(topology_, "sub", NodeOptions().only_discovery("static"));
    if (second_subscriber)
      sub2_ = std::make_unique<Node>(topology_, "sub2", NodeOptions().only_discovery("static"));
  }

  // gateway.* and forwarding.* for gw (build() adds the uplink).
  static NodeOptions gateway_options(int subscriber_timeout = 300, int max_connections = 10) {
    return NodeOptions()
        .only_discovery("static")
        .set("gateway", "enabled", "true")
        .set("gateway", "subscriberTimeout", std::to_string(subscriber_timeout))
        .set("gateway", "maxConnections", std::to_string(max_connections))
        .set("forwarding", "restrict", "true");
  }

  // Starts every daemon, then waits for each; checks that gw offers kSuite,
  // i.e. that tunnel/forwarding runs there.
  void launch_all() {
    for (Node* n : nodes()) n->start();
    for (Node* n : nodes()) n->wait_ready();
    // The server itself is reachable from the gateway, straight over the link.
    FetchResult direct = fetch(topology_.ns("gw"), web_->address(), kWebPort, "/", 5s);
    ASSERT_TRUE(direct.ok) << direct.error;
    ASSERT_EQ(direct.body, "client=" + topology_.address("gw", "inet") + "\n");
    Json::Value info = gw_->rpc("nodeInfo");
    ASSERT_TRUE(rpc_succeeded(info)) << to_json(info);
    const auto& suites = info["result"]["suites"];
    ASSERT_TRUE(std::find(suites.begin(), suites.end(), Json::Value(kSuite)) != suites.end())
        << "gw does not offer " << kSuite << ": " << to_json(info["result"])
        << "\nplugins: " << to_json(gw_->rpc("listPlugins"));
  }

  std::vector<Node*> nodes() const {
    std::vector<Node*> out = {gw_.get(), sub_.get()};
    if (sub2_) out.push_back(sub2_.get());
    return out;
  }

  // gw's address on its link to `subscriber`: what that subscriber connects to.
  std::string gateway_address(const std::string& subscriber = "sub") const {
    return topology_.address("gw", subscriber);
  }
  // What the web server must report for a subscriber's request: the
  // gateway's uplink address, since the gateway masquerades.
  std::string masqueraded() const { return "client=" + topology_.address("gw", "inet") + "\n"; }

  FetchResult fetch_from(const std::string& node, std::chrono::milliseconds timeout = 5s) const {
    return fetch(topology_.ns(node), web_->address(), kWebPort, "/", timeout);
  }
  // A fetch expected to fail need not wait long: the packets are dropped or
  // have no route at all.
  FetchResult fetch_expecting_failure(const std::string& node) const {
    return fetch_from(node, 2s);
  }

  // listSessions of a node: {"gateway": [...], "subscriber": {...}}.
  static Json::Value sessions_of(const Node& node) {
    Json::Value response = node.rpc("listSessions");
    if (!rpc_succeeded(response))
      throw std::runtime_error("listSessions on " + node.name() + ": " + to_json(response));
    return response["result"];
  }
  std::vector<std::string> gateway_session_ids() const {
    std::vector<std::string> ids;
    const Json::Value all = sessions_of(*gw_);
    for (const auto& s : all["gateway"]) ids.push_back(s["sessionId"].asString());
    return ids;
  }
  // The gateway's record of session `id` (null when it has none).
  Json::Value gateway_session(const std::string& id) const {
    const Json::Value all = sessions_of(*gw_);
    for (const auto& s : all["gateway"])
      if (s["sessionId"].asString() == id) return s;
    return Json::Value();
  }

  std::string ip(const std::string& node, const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    return topology_.exec(node, argv, 10s).out;
  }
  // Number of policy rules at `priority` in `node` (IPv4, or IPv6).
  int rules_at(const std::string& node, int priority, bool v6 = false) const {
    std::vector<std::string> args = {"rule", "show"};
    if (v6) args.insert(args.begin(), "-6");
    const std::string tag = std::to_string(priority) + ":";
    int n = 0;
    for (const auto& line : lines_of(ip(node, args)))
      if (line.rfind(tag, 0) == 0) ++n;
    return n;
  }
  // `ip route show table 65533` of a node, trimmed ("" when the table is
  // empty or absent).
  std::string mnigs_routes(const std::string& node) const {
    return trimmed(ip(node, {"route", "show", "table", std::to_string(kTable)}));
  }
  std::string routing_state(const std::string& node) const {
    return "ip rule:\n" + ip(node, {"rule", "show"}) + "table " + std::to_string(kTable) + ":\n" +
           ip(node, {"route", "show", "table", std::to_string(kTable)});
  }

  // Checks that `node` has mnigs's policy routing toward the gateway, once.
  void expect_routed_via_gateway(const std::string& node) const {
    const std::string state = routing_state(node);
    EXPECT_EQ(rules_at(node, kPriority), 1) << state;
    EXPECT_EQ(rules_at(node, kPriority + 1), 1) << state;
    const std::string rules = ip(node, {"rule", "show"});
    EXPECT_TRUE(contains(
        rules, std::to_string(kPriority) + ":\tfrom all lookup main suppress_prefixlength 0"))
        << state;
    EXPECT_TRUE(contains(
        rules, std::to_string(kPriority + 1) + ":\tfrom all lookup " + std::to_string(kTable)))
        << state;
    const auto routes = lines_of(mnigs_routes(node));
    ASSERT_EQ(routes.size(), 1u) << state;
    const std::string route =
        "default via " + gateway_address(node) + " dev " + topology_.interface(node, "gw");
    EXPECT_TRUE(routes[0].starts_with(route)) << state;
    // IPv6 rules, if the plugin sets them, must not be doubled either.
    EXPECT_LE(rules_at(node, kPriority, true), 1) << ip(node, {"-6", "rule", "show"});
    EXPECT_LE(rules_at(node, kPriority + 1, true), 1) << ip(node, {"-6", "rule", "show"});
  }
  // Checks that nothing of mnigs's policy routing is left in `node`.
  void expect_no_mnigs_routing(const std::string& node) const {
    const std::string state = routing_state(node);
    EXPECT_EQ(rules_at(node, kPriority), 0) << state;
    EXPECT_EQ(rules_at(node, kPriority + 1), 0) << state;
    EXPECT_EQ(mnigs_routes(node), "") << state;
    EXPECT_EQ(rules_at(node, kPriority, true), 0) << ip(node, {"-6", "rule", "show"});
    EXPECT_EQ(rules_at(node, kPriority + 1, true), 0) << ip(node, {"-6", "rule", "show"});
  }

  // `mnigs-cli -c` from `node` to the gateway; returns the session id the
  // subscriber then reports.
  std::string connect(Node& node) {
    auto r = node.cli({"-c", gateway_address(node.name())});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "connected to " + gateway_address(node.name()))) << r.out;
    EXPECT_TRUE(contains(r.out, kSuite)) << r.out;
    Json::Value sub = sessions_of(node)["subscriber"];
    EXPECT_EQ(sub["state"].asString(), "connected") << to_json(sub);
    return sub["connection"]["sessionId"].asString();
  }

  // renewConnection / releaseConnection sent straight from `from`'s namespace
  // to the gateway's address on that node's link, as a mesh node would.
  Json::Value session_call(const std::string& from, const std::string& method,
                           const std::string& id, const std::string& secret) const {
    Json::Value params(Json::objectValue);
    params["sessionId"] = id;
    params["secret"] = secret;
    return rpc(topology_.ns(from), gateway_address(from), gw_->rpc_port(), method, params);
  }

  // The secret the gateway issued for session `id`, from its database (the
  // subscriber keeps it too; neither ever shows it over RPC).
  std::string issued_secret(const std::string& id) const {
    std::string secret;
    wait_until(
        [&] {
          auto r = run_command({"sqlite3", "-cmd", ".timeout 2000", gw_->dir() + "/mnigs.db",
                                "SELECT secret FROM gateway_sessions WHERE id = '" + id + "';"},
                               "", 10s);
          secret = trimmed(r.out);
          return r.exit_code == 0 && !secret.empty();
        },
        50, 100ms);
    return secret;
  }

  Topology topology_;  // declared first: destroyed after everything in it
  std::unique_ptr<HttpEcho> web_;
  std::unique_ptr<Node> gw_;
  std::unique_ptr<Node> sub_;
  std::unique_ptr<Node> sub2_;
};

// ------------------------------------------------------------------- tests

TEST_F(Sessions, SubscriberReachesTheInternetOnlyWhileConnected) {
  build(gateway_options());
  ASSERT_NO_FATAL_FAILURE(launch_all());

  FetchResult before = fetch_expecting_failure("sub");
  EXPECT_FALSE(before.ok) << "sub reached inet before connecting: " << before.body;
  expect_no_mnigs_routing("sub");

  const std::string id = connect(*sub_);
  ASSERT_FALSE(id.empty());

  FetchResult through = fetch_from("sub");
  ASSERT_TRUE(through.ok) << through.error << "\n" << routing_state("sub");
  EXPECT_EQ(through.status, 200);
  EXPECT_EQ(through.body, masqueraded()) << "the gateway must masquerade its subscribers";
  expect_routed_via_gateway("sub");

  // The gateway holds the session for sub's mesh address, and the forwarding
  // table lets exactly that address out.
  Json::Value gw_sessions = sessions_of(*gw_)["gateway"];
  ASSERT_EQ(gw_sessions.size(), 1u) << to_json(gw_sessions);
  EXPECT_EQ(gw_sessions[0]["sessionId"].asString(), id);
  EXPECT_EQ(gw_sessions[0]["subscriber"].asString(), topology_.address("sub", "gw"));
  EXPECT_EQ(gw_sessions[0]["suite"].asString(), kSuite);
  auto table = topology_.exec("gw", {"nft", "list", "table", "inet", "mnigs_forwarding"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(contains(table.out, topology_.address("sub", "gw"))) << table.out;

  auto down = sub_->cli({"-d"});
  EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
  EXPECT_TRUE(contains(down.out, "disconnected from " + gateway_address())) << down.out;
  EXPECT_FALSE(contains(down.out, "did not confirm")) << down.out;

  expect_no_mnigs_routing("sub");
  FetchResult after = fetch_expecting_failure("sub");
  EXPECT_FALSE(after.ok) << "sub still reaches inet after disconnecting: " << after.body;
  EXPECT_TRUE(sessions_of(*gw_)["gateway"].empty()) << to_json(sessions_of(*gw_));
  Json::Value sub = sessions_of(*sub_)["subscriber"];
  EXPECT_EQ(sub["state"].asString(), "idle") << to_json(sub);
  EXPECT_TRUE(sub["connection"].isNull()) << to_json(sub);
  EXPECT_EQ(sub["lastError"].asString(), "") << to_json(sub);
}

TEST_F(Sessions, Ipv6SubscriberIsForwardedAndMasqueradedToo) {
  build(gateway_options());
  HttpEcho web6(topology_.ns("inet"), topology_.address6("inet", "gw"), kWebPort);
  ASSERT_NO_FATAL_FAILURE(launch_all());
  auto fetch6 = [&](std::chrono::milliseconds timeout) {
    return fetch(topology_.ns("sub"), web6.address(), kWebPort, "/", timeout);
  };
  EXPECT_FALSE(fetch6(2s).ok) << "sub reached inet over IPv6 before connecting";

  // Asking the gateway over IPv6 makes the session an IPv6 one.
  const std::string gw6 = topology_.address6("gw", "sub");
  auto up = sub_->cli({"-c", gw6});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  FetchResult through = fetch6(5s);
  ASSERT_TRUE(through.ok) << through.error << "\n" << routing_state("sub");
  EXPECT_EQ(through.body, "client=" + topology_.address6("gw", "inet") + "\n")
      << "the gateway must masquerade IPv6 subscribers too";
  auto rules = topology_.exec("sub", {"ip", "-6", "rule", "show"});
  EXPECT_TRUE(contains(rules.out, "31001:")) << rules.out;
  auto route = topology_.exec("sub", {"ip", "-6", "route", "show", "table", "65533"});
  EXPECT_TRUE(contains(route.out, "default via " + gw6)) << route.out;

  auto down = sub_->cli({"-d"});
  EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
  EXPECT_FALSE(fetch6(2s).ok) << "sub still reaches inet over IPv6 after disconnecting";
  route = topology_.exec("sub", {"ip", "-6", "route", "show", "table", "65533"});
  EXPECT_EQ(route.out, "") << route.out;
}

TEST_F(Sessions, RenewalKeepsTheSessionAndAStoppedSubscriberLosesIt) {
  constexpr int timeout = 6;  // gateway.subscriberTimeout: renewals every 2 s
  build(gateway_options(timeout));
  ASSERT_NO_FATAL_FAILURE(launch_all());
  const std::string id = connect(*sub_);
  ASSERT_FALSE(id.empty());
  const Json::Value first = gateway_session(id);
  ASSERT_TRUE(first.isObject()) << to_json(sessions_of(*gw_));

  // Two whole expiry periods and then some: without renewals the session
  // would be gone by then.
  const auto start = std::chrono::steady_clock::now();
  const auto span = std::chrono::seconds(2 * timeout + 1);
  int rounds = 0;
  for (; rounds < 60 && std::chrono::steady_clock::now() - start < span; ++rounds) {
    FetchResult r = fetch_from("sub");
    ASSERT_TRUE(r.ok) << "round " << rounds << ": " << r.error;
    EXPECT_EQ(r.body, masqueraded());
    auto ids = gateway_session_ids();
    ASSERT_EQ(ids, std::vector<std::string>{id}) << "round " << rounds;
    std::this_thread::sleep_for(1s);
  }
  ASSERT_GE(std::chrono::steady_clock::now() - start, span) << "gave up after " << rounds;
  const Json::Value renewed = gateway_session(id);
  ASSERT_TRUE(renewed.isObject());
  EXPECT_GT(renewed["expires"].asInt64(), first["expires"].asInt64()) << to_json(renewed);
  Json::Value sub = sessions_of(*sub_)["subscriber"];
  EXPECT_EQ(sub["state"].asString(), "connected") << to_json(sub);
  EXPECT_EQ(sub["connection"]["sessionId"].asString(), id);

  // A frozen subscriber renews nothing: the gateway lets the session expire.
  Frozen frozen(sub_->pid());
  const bool expired =
      wait_until([&] { return sessions_of(*gw_)["gateway"].empty(); }, 3 * timeout * 2 + 4, 500ms);
  ASSERT_TRUE(expired) << "the session outlived 3 timeouts without renewal: "
                       << to_json(sessions_of(*gw_));
  // sub still routes through the gateway (its daemon cannot act), so it is
  // the gateway that now keeps it out: the packets never reach inet.
  EXPECT_EQ(lines_of(mnigs_routes("sub")).size(), 1u) << routing_state("sub");
  const int served = web_->served();
  FetchResult refused = fetch_expecting_failure("sub");
  EXPECT_FALSE(refused.ok) << "a subscriber without a session got out: " << refused.body;
  EXPECT_EQ(web_->served(), served) << "the request reached inet, from " << web_->last_client();

  // Woken up, the subscriber's next renewal is refused: it gives up the
  // connection, says why, and removes its routes.
  frozen.thaw();
  Json::Value after;
  const bool idle = wait_until(
      [&] {
        after = sessions_of(*sub_)["subscriber"];
        return after["state"].asString() == "idle";
      },
      40, 250ms);
  ASSERT_TRUE(idle) << to_json(after);
  EXPECT_TRUE(after["connection"].isNull()) << to_json(after);
  EXPECT_FALSE(after["lastError"].asString().empty()) << to_json(after);
  expect_no_mnigs_routing("sub");
  EXPECT_TRUE(sessions_of(*gw_)["gateway"].empty()) << to_json(sessions_of(*gw_));
}

TEST_F(Sessions, SessionSurvivesKill9OfEitherEnd) {
  constexpr int timeout = 15;  // renewals every 5 s
  build(gateway_options(timeout));
  ASSERT_NO_FATAL_FAILURE(launch_all());
  const std::string id = connect(*sub_);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(fetch_from("sub").ok);
  const std::int64_t issued = gateway_session(id)["expires"].asInt64();

  // The gateway dies without a word and comes back: the stored session is
  // resumed, forwarding included.
  EXPECT_EQ(gw_->kill9(), 128 + SIGKILL);
  gw_->launch();
  ASSERT_TRUE(wait_until([&] { return !gateway_session_ids().empty(); }, 50, 200ms))
      << "no session after the gateway's restart";
  EXPECT_EQ(gateway_session_ids(), std::vector<std::string>{id});
  FetchResult r = fetch_from("sub");
  ASSERT_TRUE(r.ok) << "after the gateway's restart: " << r.error;
  EXPECT_EQ(r.body, masqueraded());
  // The subscriber never noticed, and its renewals reach the new gateway process.
  Json::Value sub = sessions_of(*sub_)["subscriber"];
  EXPECT_EQ(sub["state"].asString(), "connected") << to_json(sub);
  EXPECT_EQ(sub["connection"]["sessionId"].asString(), id);
  std::int64_t renewed_until = issued;
  ASSERT_TRUE(wait_until(
      [&] {
        renewed_until = gateway_session(id)["expires"].asInt64();
        return renewed_until > issued;
      },
      50, 500ms))
      << "no renewal reached the restarted gateway: " << to_json(sessions_of(*gw_));
  sub = sessions_of(*sub_)["subscriber"];
  EXPECT_EQ(sub["state"].asString(), "connected") << to_json(sub);

  // Now the subscriber dies. Its routes may outlive it; the restarted daemon
  // resumes the same session over them without doubling anything.
  EXPECT_EQ(sub_->kill9(), 128 + SIGKILL);
  sub_->launch();
  ASSERT_TRUE(wait_until(
      [&] {
        sub = sessions_of(*sub_)["subscriber"];
        return sub["state"].asString() == "connected";
      },
      50, 200ms))
      << "the restarted subscriber did not resume: " << to_json(sub);
  EXPECT_EQ(sub["connection"]["sessionId"].asString(), id);
  // Its first renewal after the restart is accepted: same session, further expiry.
  ASSERT_TRUE(wait_until([&] { return gateway_session(id)["expires"].asInt64() > renewed_until; },
                         30, 500ms))
      << "the resumed subscriber did not renew: " << to_json(sessions_of(*gw_));
  EXPECT_EQ(gateway_session_ids(), std::vector<std::string>{id});
  sub = sessions_of(*sub_)["subscriber"];
  EXPECT_EQ(sub["state"].asString(), "connected") << to_json(sub);
  r = fetch_from("sub");
  EXPECT_TRUE(r.ok) << "after the subscriber's restart: " << r.error;
  EXPECT_EQ(r.body, masqueraded());
  expect_routed_via_gateway("sub");
}

// Every session is metered, free ones too: the gateway's kernel counts the
// bytes through it, listSessions shows them on the gateway and, from the
// renewals, on the subscriber; what was counted is stored and survives a
// kill -9 together with nft flush ruleset, and a table flushed under a
// running gateway is rebuilt and counts on.
TEST_F(Sessions, EverySessionIsMeteredOnBothEndsAndItsUsageOutlivesKill9AndFlush) {
  constexpr int timeout = 9;  // renewals, carrying the gateway's count, every 3 s
  build(gateway_options(timeout).set("gateway", "meterInterval", "1"));
  ASSERT_NO_FATAL_FAILURE(launch_all());
  const std::string id = connect(*sub_);
  ASSERT_FALSE(id.empty());
  auto download = [&](std::int64_t bytes) {
    FetchResult r = fetch(topology_.ns("sub"), web_->address(), kWebPort,
                          "/bytes/" + std::to_string(bytes), 20s);
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(static_cast<std::int64_t>(r.body.size()), bytes);
  };
  auto used = [&] { return gateway_session(id)["used"]; };
  auto stored_bytes_in = [&] {
    auto r = run_command({"sqlite3", "-cmd", ".timeout 2000", gw_->dir() + "/mnigs.db",
                          "SELECT bytes_in FROM gateway_sessions WHERE id = '" + id + "';"},
                         "", 10s);
    const std::string out = trimmed(r.out);
    return out.empty() ? std::int64_t{-1} : std::stoll(out);
  };

  constexpr std::int64_t kBytes = 3'000'000;
  ASSERT_NO_FATAL_FAILURE(download(kBytes));
  // The download, with its HTTP head and TCP/IP headers; the upload is its
  // request and acknowledgements.
  Json::Value u;
  ASSERT_TRUE(wait_until([&] { return (u = used())["bytesIn"].asInt64() >= kBytes; }, 50, 200ms))
      << to_json(u);
  EXPECT_LT(u["bytesIn"].asInt64(), kBytes * 11 / 10) << to_json(u);
  EXPECT_GT(u["bytesOut"].asInt64(), 0) << to_json(u);
  EXPECT_LT(u["bytesOut"].asInt64(), kBytes / 10) << to_json(u);
  auto table = topology_.exec("gw", {"nft", "list", "table", "inet", "mnigs_meter"});
  EXPECT_TRUE(contains(table.out, "counter i_" + id)) << table.out << table.err;
  EXPECT_TRUE(contains(table.out, topology_.address("sub", "gw") + " : jump o_" + id))
      << table.out;
  // The subscriber shows what the gateway counted, from its next renewal.
  Json::Value metered;
  EXPECT_TRUE(wait_until(
      [&] {
        metered = sessions_of(*sub_)["subscriber"]["connection"]["meteredByGateway"];
        return metered["bytesIn"].asInt64() >= kBytes;
      },
      50, 200ms))
      << to_json(sessions_of(*sub_));
  auto view = sub_->cli({"--sessions"});
  EXPECT_TRUE(contains(view.out, "metered by the gateway: ")) << view.out;

  // Stored within a reading or two; then kill -9 and a flushed ruleset lose
  // nothing that was stored.
  std::int64_t stored = -1;
  ASSERT_TRUE(wait_until([&] { return (stored = stored_bytes_in()) >= kBytes; }, 50, 200ms))
      << stored;
  EXPECT_EQ(gw_->kill9(), 128 + SIGKILL);
  EXPECT_EQ(topology_.exec("gw", {"nft", "flush", "ruleset"}).exit_code, 0);
  gw_->launch();
  ASSERT_TRUE(wait_until([&] { return !gateway_session_ids().empty(); }, 50, 200ms));
  u = used();
  EXPECT_GE(u["bytesIn"].asInt64(), stored) << to_json(u);
  // And counting goes on from there.
  const std::int64_t before = u["bytesIn"].asInt64();
  ASSERT_NO_FATAL_FAILURE(download(1'000'000));
  EXPECT_TRUE(
      wait_until([&] { return (u = used())["bytesIn"].asInt64() >= before + 1'000'000; }, 50,
                 200ms))
      << to_json(u);

  // Flushed under the running gateway: the next reading rebuilds the table.
  EXPECT_EQ(topology_.exec("gw", {"nft", "flush", "ruleset"}).exit_code, 0);
  EXPECT_TRUE(wait_until(
      [&] {
        return contains(topology_.exec("gw", {"nft", "list", "table", "inet", "mnigs_meter"}).out,
                        "counter o_" + id);
      },
      50, 200ms));
  const std::int64_t rebuilt_from = used()["bytesIn"].asInt64();
  EXPECT_GE(rebuilt_from, before + 1'000'000);
  ASSERT_NO_FATAL_FAILURE(download(1'000'000));
  EXPECT_TRUE(wait_until(
      [&] { return (u = used())["bytesIn"].asInt64() >= rebuilt_from + 1'000'000; }, 50, 200ms))
      << to_json(u);
}

// Record first, then act: mnigsd killed at any moment of a connect, on
// either side, comes back with the kernel holding exactly what its records
// say. The subscriber is connected on a session the gateway holds, with its
// routes, or idle with none of them; the gateway forwards exactly the
// subscribers it has sessions for. A grant whose reply never arrived is the
// one thing only the gateway knows of; the next request from that address
// replaces it, so there is never more than one.
TEST_F(Sessions, Kill9AtAnyMomentOfAConnectLeavesBothEndsConsistent) {
  build(gateway_options());
  ASSERT_NO_FATAL_FAILURE(launch_all());
  // After the connect began: spread over the time one takes here (about
  // 100 to 300 ms), from before the request to after the tunnel is up.
  const std::vector<int> delays_ms = {0, 10, 25, 50, 80, 120, 180, 260, 400};
  for (std::size_t round = 0; round < 2 * delays_ms.size(); ++round) {
    const bool gateway_dies = round % 2 == 1;
    const int delay = delays_ms[round / 2];
    SCOPED_TRACE((gateway_dies ? "gw" : "sub") + std::string(" killed ") +
                 std::to_string(delay) + " ms into a connect");
    std::thread cli([&] { sub_->cli({"-c", gateway_address()}, 10s); });
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    Node& victim = gateway_dies ? *gw_ : *sub_;
    EXPECT_EQ(victim.kill9(), 128 + SIGKILL);
    cli.join();
    ASSERT_NO_THROW(victim.launch());

    // Settled: both ends have finished starting, and a resumed subscriber
    // has had its session proven (or refused) by the gateway.
    const std::string address = topology_.address("sub", "gw");
    Json::Value sub;
    std::vector<std::string> held;
    std::string nft;
    const bool settled = wait_until(
        [&] {
          sub = sessions_of(*sub_)["subscriber"];
          held = gateway_session_ids();
          nft = topology_.exec("gw", {"nft", "list", "set", "inet", "mnigs_forwarding",
                                      "subscribers4"}, 10s).out;
          const std::string state = sub["state"].asString();
          const bool gateway_agrees = contains(nft, address) == !held.empty();
          if (state == "idle") return gateway_agrees;
          return state == "connected" && gateway_agrees &&
                 held == std::vector<std::string>{sub["connection"]["sessionId"].asString()};
        },
        50, 200ms);
    EXPECT_TRUE(settled) << "subscriber: " << to_json(sub)
                         << "\ngateway: " << to_json(sessions_of(*gw_)) << "\n" << nft;
    EXPECT_LE(held.size(), 1u) << to_json(sessions_of(*gw_));
    if (sub["state"].asString() == "connected") {
      expect_routed_via_gateway("sub");
      FetchResult r = fetch_from("sub");
      EXPECT_TRUE(r.ok) << r.error;
      auto down = sub_->cli({"-d"});
      EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
    } else {
      expect_no_mnigs_routing("sub");
      EXPECT_FALSE(fetch_expecting_failure("sub").ok);
    }
    if (HasFailure()) break;
  }
}

TEST_F(Sessions, FullGatewayAndForeignCallersAreRefused) {
  build(gateway_options(300, 1), true);
  ASSERT_NO_FATAL_FAILURE(launch_all());
  const std::string id = connect(*sub_);
  ASSERT_FALSE(id.empty());

  // Everything that follows must leave this as it is.
  auto expect_unchanged = [&](const std::string& after) {
    SCOPED_TRACE(after);
    EXPECT_EQ(gateway_session_ids(), std::vector<std::string>{id});
    Json::Value sub = sessions_of(*sub_)["subscriber"];
    EXPECT_EQ(sub["state"].asString(), "connected") << to_json(sub);
    EXPECT_EQ(sub["connection"]["sessionId"].asString(), id);
    FetchResult r = fetch_from("sub");
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.body, masqueraded());
  };

  // One slot, taken: sub2 is turned away and left as it was.
  auto full = sub2_->cli({"-c", gateway_address("sub2")});
  EXPECT_EQ(full.exit_code, 1) << full.out << full.err;
  EXPECT_TRUE(contains(full.err, "gateway full")) << full.err;
  Json::Value sub2 = sessions_of(*sub2_)["subscriber"];
  EXPECT_EQ(sub2["state"].asString(), "idle") << to_json(sub2);
  EXPECT_TRUE(contains(sub2["lastError"].asString(), "gateway full")) << to_json(sub2);
  expect_no_mnigs_routing("sub2");
  expect_unchanged("after sub2 asked a full gateway");

  const std::string secret = issued_secret(id);
  ASSERT_FALSE(secret.empty()) << "no secret for session " << id << " in the gateway's database";
  std::string wrong = secret;
  wrong[0] = wrong[0] == '0' ? '1' : '0';

  auto renew = session_call("sub", "renewConnection", id, wrong);
  EXPECT_EQ(rpc_error_code(renew), -32001) << to_json(renew);
  expect_unchanged("after a renewal with a wrong secret");

  auto release = session_call("sub", "releaseConnection", id, wrong);
  EXPECT_EQ(rpc_error_code(release), -32001) << to_json(release);
  expect_unchanged("after a release with a wrong secret");

  // The right secret from the wrong address is no better.
  release = session_call("sub2", "releaseConnection", id, secret);
  EXPECT_EQ(rpc_error_code(release), -32001) << to_json(release);
  expect_unchanged("after a release from sub2");
  renew = session_call("sub2", "renewConnection", id, secret);
  EXPECT_EQ(rpc_error_code(renew), -32001) << to_json(renew);
  expect_unchanged("after a renewal from sub2");

  // Once sub lets go, the slot is sub2's.
  auto down = sub_->cli({"-d"});
  EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
  const std::string id2 = connect(*sub2_);
  EXPECT_FALSE(id2.empty());
  EXPECT_NE(id2, id);
  FetchResult r = fetch_from("sub2");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, masqueraded());
  EXPECT_FALSE(fetch_expecting_failure("sub").ok);
}

TEST_F(Sessions, BadInputIsRefusedAndChangesNothing) {
  build(gateway_options());
  ASSERT_NO_FATAL_FAILURE(launch_all());

  auto bad_address = sub_->cli({"-c", "999.1.1.1"});
  EXPECT_EQ(bad_address.exit_code, 1) << bad_address.out << bad_address.err;
  EXPECT_TRUE(contains(bad_address.err, "\"999.1.1.1\" is not an IPv4 or IPv6 address"))
      << bad_address.err;

  auto bad_suite = sub_->cli({"-c", gateway_address(), "-m", "no-such-suite"});
  EXPECT_EQ(bad_suite.exit_code, 1) << bad_suite.out << bad_suite.err;
  EXPECT_TRUE(contains(bad_suite.err, "no-such-suite")) << bad_suite.err;
  EXPECT_TRUE(contains(bad_suite.err, "the gateway offers " + kSuite)) << bad_suite.err;

  EXPECT_TRUE(sessions_of(*gw_)["gateway"].empty()) << to_json(sessions_of(*gw_));
  Json::Value sub = sessions_of(*sub_)["subscriber"];
  EXPECT_EQ(sub["state"].asString(), "idle") << to_json(sub);
  expect_no_mnigs_routing("sub");

  const std::string id = connect(*sub_);
  ASSERT_FALSE(id.empty());
  const Json::Value before = sessions_of(*gw_)["gateway"];
  ASSERT_EQ(before.size(), 1u) << to_json(before);

  const std::string unknown(32, 'a');
  ASSERT_NE(unknown, id);
  auto renew = session_call("sub", "renewConnection", unknown, std::string(64, 'b'));
  EXPECT_EQ(rpc_error_code(renew), -32004) << to_json(renew);
  auto release = session_call("sub", "releaseConnection", unknown, std::string(64, 'b'));
  EXPECT_EQ(rpc_error_code(release), -32004) << to_json(release);

  auto again = sub_->cli({"-c", gateway_address()});
  EXPECT_EQ(again.exit_code, 1) << again.out << again.err;
  EXPECT_TRUE(contains(again.err, "already connected")) << again.err;

  // Same session on both ends, routes not doubled, traffic flowing.
  const Json::Value after = sessions_of(*gw_)["gateway"];
  ASSERT_EQ(after.size(), 1u) << to_json(after);
  EXPECT_EQ(after[0]["sessionId"], before[0]["sessionId"]);
  EXPECT_EQ(after[0]["subscriber"], before[0]["subscriber"]);
  EXPECT_EQ(after[0]["created"], before[0]["created"]);
  sub = sessions_of(*sub_)["subscriber"];
  EXPECT_EQ(sub["state"].asString(), "connected") << to_json(sub);
  EXPECT_EQ(sub["connection"]["sessionId"].asString(), id);
  EXPECT_EQ(sub["lastError"].asString(), "") << to_json(sub);
  expect_routed_via_gateway("sub");
  FetchResult r = fetch_from("sub");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, masqueraded());
}

}  // namespace
}  // namespace mnigs::test
