// Reading the config file again (SIGHUP, reloadConfig): live keys take
// their new values at once, the others wait for a restart, an invalid file
// changes nothing.
#include <gtest/gtest.h>

#include <fstream>

#include "config/config_runtime.hpp"
#include "config/schema.hpp"
#include "test_util.hpp"

namespace mnigs {
namespace {

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    declare_core_keys(schema_);
    write("main:\n  name: first\ndaemon:\n  threads: 1\n");
    ParsedConfig parsed = validate(read_yaml_file(path_), schema_, path_);
    ASSERT_TRUE(parsed.ok());
    runtime_ =
        std::make_unique<ConfigRuntime>(std::make_shared<const Config>(path_, parsed.values));
    runtime_->schema = schema_;
    runtime_->on_live_change = [this](const std::vector<ConfigChange>& c) {
      for (const auto& x : c) live_.push_back(x.dotted());
    };
  }
  void write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  Json::Value running(const char* section, const char* key) {
    return runtime_->holder.get()->get(section, key);
  }

  test::TempDir dir_;
  const std::string path_ = dir_.file("mnigs.yaml");
  Schema schema_;
  std::unique_ptr<ConfigRuntime> runtime_;
  std::vector<std::string> live_;
};

TEST_F(ReloadTest, LiveKeysApplyTheOthersWaitForARestart) {
  write("main:\n  name: second\ndaemon:\n  threads: 4\n");
  ReloadOutcome r = reload_config(*runtime_);
  EXPECT_TRUE(r.errors.empty());
  EXPECT_EQ(r.applied, std::vector<std::string>{"main.name"});
  EXPECT_EQ(r.restart_required, std::vector<std::string>{"daemon.threads"});
  EXPECT_EQ(running("main", "name"), "second");
  EXPECT_EQ(running("daemon", "threads"), 1);  // until a restart
  EXPECT_EQ(live_, std::vector<std::string>{"main.name"});
  EXPECT_EQ(runtime_->restart_pending.count("daemon.threads"), 1u);

  // Put back as it runs: no longer waiting; nothing applied again.
  write("main:\n  name: second\ndaemon:\n  threads: 1\n");
  r = reload_config(*runtime_);
  EXPECT_TRUE(r.applied.empty());
  EXPECT_TRUE(r.restart_required.empty());
  EXPECT_EQ(runtime_->restart_pending.count("daemon.threads"), 0u);
  EXPECT_EQ(live_.size(), 1u);
}

TEST_F(ReloadTest, AnInvalidFileChangesNothingAndSaysWhy) {
  for (const char* bad : {"main:\n  name: [unclosed\n", "daemon:\n  threads: 999\n",
                          "main:\n  name: x\ndaemon:\n  rpcTimeout: soon\n"}) {
    write(bad);
    ReloadOutcome r = reload_config(*runtime_);
    ASSERT_FALSE(r.errors.empty()) << bad;
    EXPECT_TRUE(r.applied.empty()) << bad;
    EXPECT_EQ(running("main", "name"), "first") << bad;
    EXPECT_TRUE(live_.empty()) << bad;
  }
  std::filesystem::remove(path_);
  ReloadOutcome gone = reload_config(*runtime_);
  ASSERT_FALSE(gone.errors.empty());
  EXPECT_NE(gone.errors[0].find(path_), std::string::npos) << gone.errors[0];
}

TEST_F(ReloadTest, WithoutAConfigFileThereIsNothingToRead) {
  ConfigRuntime defaults_only(std::make_shared<const Config>("", defaults(schema_)));
  defaults_only.schema = schema_;
  ReloadOutcome r = reload_config(defaults_only);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("built-in defaults"), std::string::npos);
}

}  // namespace
}  // namespace mnigs
