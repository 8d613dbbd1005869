// The daemon's logging (core/log): the process-wide level, the line format
// people grep for, and whole lines when threads log at once.
#include "log/log.hpp"

#include "test_util.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

namespace mnigs {
namespace {

// Sends stderr to a file for the life of the object; restores it and the
// log level after.
class CapturedStderr {
 public:
  CapturedStderr() : path_(dir_.file("stderr")), level_(StderrLogger::level()) {
    ::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~CapturedStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    StderrLogger::set_level(level_);
  }
  std::vector<std::string> lines() const {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  test::TempDir dir_;
  std::string path_;
  LogLevel level_;
  int saved_ = -1;
};

TEST(Log, LinesCarryTimeLevelAndNameAndTheLevelFiltersThem) {
  CapturedStderr captured;
  StderrLogger log("scan");
  StderrLogger::set_level(LogLevel::info);
  EXPECT_TRUE(log.enabled(LogLevel::error));
  EXPECT_TRUE(log.enabled(LogLevel::info));
  EXPECT_FALSE(log.enabled(LogLevel::debug));
  log.info("scan ", 3, " finished");
  log.debug("not shown");
  log.error("probe failed");
  StderrLogger::set_level(LogLevel::debug);
  log.debug("now shown");

  const auto lines = captured.lines();
  ASSERT_EQ(lines.size(), 3u);
  const std::regex format(
      R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (info |error|debug) \[scan\] .*)");
  for (const auto& line : lines) EXPECT_TRUE(std::regex_match(line, format)) << line;
  EXPECT_NE(lines[0].find(" info  [scan] scan 3 finished"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(" error [scan] probe failed"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find(" debug [scan] now shown"), std::string::npos) << lines[2];
}

TEST(Log, LinesFromManyThreadsNeverInterleave) {
  CapturedStderr captured;
  StderrLogger::set_level(LogLevel::info);
  constexpr int threads = 4, each = 500;
  const std::string payload(200, 'x');
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      StderrLogger log("t" + std::to_string(t));
      for (int i = 0; i < each; ++i) log.info(i, " ", payload, " end");
    });
  for (auto& w : workers) w.join();

  const auto lines = captured.lines();
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(threads * each));
  const std::regex whole(R"(.* info  \[t\d\] \d+ x{200} end)");
  for (const auto& line : lines) ASSERT_TRUE(std::regex_match(line, whole)) << line;
}

TEST(Log, LevelNamesReadAsTheConfigWritesThem) {
  for (LogLevel level : {LogLevel::error, LogLevel::warn, LogLevel::info, LogLevel::debug})
    EXPECT_EQ(parse_log_level(to_string(level)), level) << to_string(level);
  EXPECT_EQ(parse_log_level("warning"), LogLevel::warn);
  EXPECT_FALSE(parse_log_level("INFO"));
  EXPECT_FALSE(parse_log_level("verbose"));
  EXPECT_FALSE(parse_log_level(""));
}

}  // namespace
}  // namespace mnigs
