// Hook commands: run with the event's details as arguments and MNIGS_*
// variables, killed at daemon.hookTimeout, failures logged and survived.
#include "hooks/hooks.hpp"
#include "test_util.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace mnigs {
namespace {

std::unique_ptr<ConfigHolder> config_with(const std::string& key, const std::string& command,
                                          int timeout = 10) {
  Schema schema;
  declare_core_keys(schema);
  Json::Value values = defaults(schema);
  auto dot = key.find('.');
  values[key.substr(0, dot)][key.substr(dot + 1)] = command;
  values["daemon"]["hookTimeout"] = timeout;
  return std::make_unique<ConfigHolder>(std::make_shared<const Config>("", values));
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

TEST(Hooks, CommandGetsDetailsAsArgumentsAndEnvironment) {
  test::TempDir dir;
  test::RecordingLogger log;
  const std::string out = dir.file("hook.out");
  auto config = config_with("gateway.onRegister",
                            "echo \"$1 $2 $3 $4 $5 $MNIGS_EVENT $MNIGS_SESSION_ID $MNIGS_NAME\" > " + out);
  Hooks hooks(*config, log);
  hooks.fire("gateway.onRegister", {{"SESSION_ID", "ab12"},
                                    {"SUBSCRIBER", "10.77.2.2"},
                                    {"GATEWAY", "10.77.1.1"},
                                    {"SUITE", "static-forwarding-free"},
                                    {"NAME", "rooftop"}});
  hooks.drain();
  EXPECT_EQ(read(out),
            "gateway.onRegister ab12 10.77.2.2 10.77.1.1 static-forwarding-free "
            "gateway.onRegister ab12 rooftop\n");
}

TEST(Hooks, EmptyCommandRunsNothing) {
  test::RecordingLogger log;
  auto config = config_with("subscriber.onConnect", "");
  Hooks hooks(*config, log);
  hooks.fire("subscriber.onConnect", {});
  hooks.drain();
  EXPECT_TRUE(log.lines().empty());
}

TEST(Hooks, FailingHookIsLoggedNotFatal) {
  test::RecordingLogger log;
  auto config = config_with("gateway.onRelease", "echo broken >&2; exit 3");
  Hooks hooks(*config, log);
  hooks.fire("gateway.onRelease", {{"SESSION_ID", "x"}});
  hooks.drain();
  EXPECT_TRUE(log.contains("exited with 3")) << (log.lines().empty() ? "" : log.lines().back());
  EXPECT_TRUE(log.contains("broken"));
}

TEST(Hooks, SlowHookIsKilledAtTheTimeoutWithWhatItStarted) {
  test::TempDir dir;
  test::RecordingLogger log;
  const std::string pidfile = dir.file("child.pid");
  auto config = config_with("gateway.onRelease",
                            "sleep 30 & echo $! > " + pidfile + "; wait", /*timeout=*/1);
  Hooks hooks(*config, log);
  hooks.fire("gateway.onRelease", {});
  hooks.drain();
  EXPECT_TRUE(log.contains("killed after daemon.hookTimeout"));
  const std::string child = std::to_string(std::stoi(read(pidfile)));
  // Gone, or a zombie waiting for whoever reaps orphans here: not running.
  auto running = [&] {
    std::string stat = read("/proc/" + child + "/stat");
    auto state = stat.find(") ");
    return state != std::string::npos && stat[state + 2] != 'Z';
  };
  for (int i = 0; i < 100 && running(); ++i) ::usleep(10000);
  EXPECT_FALSE(running()) << "the hook's background child survived";
}

}  // namespace
}  // namespace mnigs
