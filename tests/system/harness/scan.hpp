// Scans through a node's admin RPC, for the discovery system tests.
//
//   Json::Value status = scan(node);             // startScan, wait for the end
//   auto names = node_names(node.rpc("listNodes")["result"]["nodes"]);
#pragma once

#include <json/json.h>

#include <chrono>
#include <set>
#include <string>

#include "harness/node.hpp"

namespace mnigs::test {

// Calls startScan on `node` and polls scanStatus until it reports the scan
// finished; returns that last scanStatus result. Fails the test (and returns
// what it last saw) if the scan does not end within `timeout`.
Json::Value scan(const Node& node, std::chrono::milliseconds timeout = 60s);

// The "name" of every entry of a listNodes / listGateways array.
std::set<std::string> node_names(const Json::Value& entries);

}  // namespace mnigs::test
