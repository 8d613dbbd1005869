#include "harness/scan.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace mnigs::test {

Json::Value scan(const Node& node, std::chrono::milliseconds timeout) {
  Json::Value started = node.rpc("startScan");
  EXPECT_TRUE(rpc_succeeded(started)) << to_json(started);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Json::Value last;
  while (std::chrono::steady_clock::now() < deadline) {
    Json::Value status = node.rpc("scanStatus");
    if (rpc_succeeded(status)) {
      last = status["result"];
      if (!last["running"].asBool() && last["scan"].asInt() >= started["result"]["scan"].asInt())
        return last;
    }
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "scan on " << node.name() << " did not finish within " << timeout.count()
                << " ms; last status " << to_json(last);
  return last;
}

std::set<std::string> node_names(const Json::Value& entries) {
  std::set<std::string> names;
  for (const auto& e : entries) names.insert(e["name"].asString());
  return names;
}

}  // namespace mnigs::test
