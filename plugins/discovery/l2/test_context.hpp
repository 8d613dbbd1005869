// A FakeContext for the l2 tests whose steady clock the test moves, and
// which may run on an io_context shared with other contexts (two nodes in
// one test).
#pragma once

#include "plugin_fakes.hpp"

namespace mnigs::l2::testing {

class ClockContext : public mnigs::testing::FakeContext {
 public:
  // On its own io_context (drive it with poll() / run_for()).
  ClockContext() : FakeContext("l2") {}
  // On `shared`: the caller runs that io_context.
  explicit ClockContext(boost::asio::io_context& shared) : FakeContext("l2"), shared_(&shared) {}

  boost::asio::any_io_executor executor() override {
    return shared_ ? shared_->get_executor() : FakeContext::executor();
  }
  // Real time unless the test has set one.
  std::chrono::steady_clock::time_point now() const override {
    return fake_now ? *fake_now : std::chrono::steady_clock::now();
  }

  std::optional<std::chrono::steady_clock::time_point> fake_now;

 private:
  boost::asio::io_context* shared_ = nullptr;
};

// A valid l2 config section with every key, as the core hands it over.
inline Json::Value l2_config(std::vector<std::string> interfaces = {}, int interval = 5,
                             int holdtime = 0, int port = 65532) {
  Json::Value c(Json::objectValue);
  Json::Value list(Json::arrayValue);
  for (auto& i : interfaces) list.append(i);
  c["interfaces"] = list;
  c["group"] = "ff02::ed6e:6967";
  c["port"] = port;
  c["interval"] = interval;
  c["holdtime"] = holdtime;
  c["maxPeers"] = 1024;
  return c;
}

}  // namespace mnigs::l2::testing
