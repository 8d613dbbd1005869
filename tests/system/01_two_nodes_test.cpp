// Two mnigsd nodes, a and b, on one veth link: what b can learn from a across
// the link, which admin calls a accepts from where, and that the harness
// leaves nothing behind, even when the test process dies without cleaning up.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <sstream>
#include <thread>

#include "harness/system_test.hpp"

namespace mnigs::test {
namespace {

class TwoNodes : public SystemTest {
 protected:
  void SetUp() override {
    SystemTest::SetUp();
    if (HasFatalFailure()) return;
    topology_.node("a").node("b").link("a", "b");
    topology_.up();
    a_ = std::make_unique<Node>(topology_, "a");
    b_ = std::make_unique<Node>(topology_, "b");
    // Start both before waiting, so they come up in parallel.
    a_->start();
    b_->start();
    a_->wait_ready();
    b_->wait_ready();
  }

  // Calls `method` on a's link address from inside b, as a neighbour would.
  Json::Value from_b(const std::string& method, const std::string& token = "", bool ipv6 = false) {
    const std::string host = ipv6 ? topology_.address6("a", "b") : topology_.address("a", "b");
    return rpc(topology_.ns("b"), host, a_->rpc_port(), method, Json::Value(Json::objectValue),
               token);
  }

  Topology topology_;  // declared first: destroyed after the nodes in it
  std::unique_ptr<Node> a_;
  std::unique_ptr<Node> b_;
};

void expect_node_info(const Json::Value& response, const std::string& name) {
  ASSERT_TRUE(rpc_succeeded(response)) << to_json(response);
  const Json::Value& info = response["result"];
  EXPECT_EQ(info["name"].asString(), name) << to_json(info);
  EXPECT_TRUE(info["version"].isString()) << to_json(info);
  EXPECT_TRUE(info["gateway"].isBool()) << to_json(info);
  EXPECT_TRUE(info["suites"].isArray()) << to_json(info);
  EXPECT_TRUE(info["plugins"].isArray()) << to_json(info);
}

void expect_refused(const Json::Value& response) {
  EXPECT_EQ(rpc_error_code(response), rpc_unauthorized) << to_json(response);
  EXPECT_FALSE(response.isMember("result")) << to_json(response);
}

TEST_F(TwoNodes, NodeInfoAnswersNeighbourOverIpv4) {
  expect_node_info(from_b("nodeInfo"), "a");
  // And the other way round, so neither side is special.
  expect_node_info(rpc(topology_.ns("a"), topology_.address("b", "a"), b_->rpc_port(), "nodeInfo"),
                   "b");
}

TEST_F(TwoNodes, NodeInfoAnswersNeighbourOverIpv6) {
  Json::Value response = from_b("nodeInfo", "", true);
  expect_node_info(response, "a");
  // a has a routable (ULA) IPv6 address on its link: subscribers may rely on it.
  EXPECT_TRUE(response["result"]["ipv6support"].asBool()) << to_json(response);
}

TEST_F(TwoNodes, AdminMethodFromNeighbourWithoutTokenIsRefused) {
  expect_refused(from_b("status"));
  expect_refused(from_b("status", "", true));
}

TEST_F(TwoNodes, AdminMethodFromNeighbourWithWrongTokenIsRefused) {
  const std::string token = a_->admin_token();
  std::string wrong(token.size(), '0');
  if (wrong == token) wrong.assign(token.size(), '1');
  expect_refused(from_b("status", wrong));
  // A token that is only a prefix of the right one must not pass either.
  expect_refused(from_b("status", token.substr(0, token.size() / 2)));
}

TEST_F(TwoNodes, AdminMethodFromNeighbourWithTokenWorks) {
  const std::string token = a_->admin_token();
  EXPECT_EQ(token.size(), 64u) << token;
  EXPECT_EQ(token.find_first_not_of("0123456789abcdefABCDEF"), std::string::npos) << token;
  struct stat st {};
  ASSERT_EQ(::stat((a_->dir() + "/admin.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "admin.token must be private to the daemon's user";

  const auto response = from_b("status", token);
  EXPECT_TRUE(rpc_succeeded(response)) << to_json(response);
  const auto response6 = from_b("status", token, true);
  EXPECT_TRUE(rpc_succeeded(response6)) << to_json(response6);
}

TEST_F(TwoNodes, AdminMethodOverLoopbackNeedsNoToken) {
  // 127.0.0.0/8 is in daemon.authorizedNetworks by default.
  const auto response = a_->rpc("status");
  EXPECT_TRUE(rpc_succeeded(response)) << to_json(response);
}

// ---------------------------------------------------------------- cleanup

using HarnessCleanup = SystemTest;

std::vector<std::string> our_namespaces() {
  auto all = list_namespaces();
  std::erase_if(all, [](const std::string& n) { return n.rfind(ns_prefix(), 0) != 0; });
  return all;
}

TEST_F(HarnessCleanup, TeardownLeavesNoNamespaceProcessOrDirectory) {
  std::vector<pid_t> pids;
  std::string dir;
  {
    auto topology = Topology::parse("node a b\nlink a b\nbridge sw a b\n");
    topology.up();
    const auto present = list_namespaces();
    for (const auto& ns : topology.namespaces())
      EXPECT_NE(std::find(present.begin(), present.end(), ns), present.end()) << ns;
    Node a(topology, "a");
    a.launch();
    pids.push_back(a.pid());
    dir = a.dir();
    // A process nobody registered: teardown must find it in the namespace.
    pids.push_back(spawn_in_ns(topology.ns("b"), {"/bin/sleep", "600"}, "/dev/null"));
    ASSERT_TRUE(process_alive(pids.back()));
  }
  const auto left = our_namespaces();
  EXPECT_TRUE(left.empty()) << "left behind: " << testing::PrintToString(left);
  for (pid_t pid : pids) EXPECT_FALSE(process_alive(pid)) << "process " << pid << " survived";
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
}

// What a child that built a topology and then died left to look for.
struct Orphan {
  std::string ns;
  pid_t pid = -1;  // a process the child started inside ns
};

// Forks a child that builds a one-node topology, starts a process in it and
// then dies without any cleanup: by _exit() or, if `sigkill`, by SIGKILL
// from us once it has reported. Only the child's reaper can clean up.
Orphan orphan_topology(bool sigkill) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  pid_t child = ::fork();
  if (child == 0) {
    ::close(report[0]);
    std::string line;
    try {
      Topology topology;
      topology.node("x").up();
      pid_t sleeper = spawn_in_ns(topology.ns("x"), {"/bin/sleep", "600"}, "/dev/null");
      Reaper::instance().watch_pid(sleeper);
      line = topology.ns("x") + " " + std::to_string(sleeper) + "\n";
      (void)!::write(report[1], line.data(), line.size());
      // Leave without running any destructor.
      if (sigkill)
        for (int i = 0; i < 600; ++i) ::sleep(1);
      ::_exit(0);
    } catch (const std::exception& e) {
      line = std::string("error ") + e.what() + "\n";
      (void)!::write(report[1], line.data(), line.size());
      ::_exit(1);
    }
  }
  ::close(report[1]);
  std::string text;
  pollfd pfd{report[0], POLLIN, 0};
  for (int round = 0; round < 300 && text.find('\n') == std::string::npos; ++round) {
    if (::poll(&pfd, 1, 100) <= 0) continue;
    char buf[256];
    ssize_t got = ::read(report[0], buf, sizeof buf);
    if (got <= 0) break;
    text.append(buf, static_cast<size_t>(got));
  }
  ::close(report[0]);
  if (sigkill || text.find('\n') == std::string::npos) ::kill(child, SIGKILL);
  wait_exit(child, 10s);

  Orphan orphan;
  std::istringstream in(text);
  in >> orphan.ns >> orphan.pid;
  if (orphan.ns.rfind("mn" + std::to_string(child) + "-", 0) != 0)
    throw std::runtime_error("child did not build its topology: " + text);
  return orphan;
}

// Waits (bounded) until the orphan is gone; removes it ourselves if not, so
// that a broken reaper fails the test without leaking.
void expect_reaped(const Orphan& orphan) {
  bool gone = false;
  for (int round = 0; round < 100 && !gone; ++round) {
    auto all = list_namespaces();
    gone = std::find(all.begin(), all.end(), orphan.ns) == all.end() && !process_alive(orphan.pid);
    if (!gone) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(gone) << "the reaper did not remove " << orphan.ns << " and process " << orphan.pid
                    << " within 10 s";
  if (!gone) {
    terminate_processes({orphan.pid});
    destroy_namespace(orphan.ns);
  }
}

TEST_F(HarnessCleanup, ReaperCleansUpAfterExitWithoutCleanup) {
  expect_reaped(orphan_topology(false));
}

TEST_F(HarnessCleanup, ReaperCleansUpAfterSigkill) { expect_reaped(orphan_topology(true)); }

}  // namespace
}  // namespace mnigs::test
