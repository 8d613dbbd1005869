// What a system test includes: the whole harness plus the SystemTest fixture.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include "harness/netns.hpp"
#include "harness/node.hpp"
#include "harness/reaper.hpp"
#include "harness/rpc_client.hpp"
#include "harness/topology.hpp"

namespace mnigs::test {

// Base fixture of every system test. Fails (never skips) when not run as
// root, so a CI job without privileges cannot pass by running nothing.
class SystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_FAIL() << "system tests need root: they create network namespaces";
  }
};

}  // namespace mnigs::test
