// Shared bits for unit tests: a recording logger, temp directories, the core
// config with overrides, waiting for what other threads do.
#pragma once

#include "config/config.hpp"

#include <mnigs/log.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mnigs::test {

class RecordingLogger final : public Logger {
 public:
  bool enabled(LogLevel) const override { return true; }
  void write(LogLevel level, std::string_view message) override {
    std::lock_guard lock(mutex_);
    lines_.push_back(std::string(to_text(level)) + ": " + std::string(message));
  }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }
  bool contains(std::string_view needle) const {
    for (const auto& l : lines())
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }

 private:
  static const char* to_text(LogLevel l) {
    switch (l) {
      case LogLevel::error: return "error";
      case LogLevel::warn: return "warn";
      case LogLevel::info: return "info";
      default: return "debug";
    }
  }
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// A directory under /tmp removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mnigs-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Polls `done` for up to 5 s of real time, for what happens on other threads
// after a step (a fired timer, a loopback call, a plugin's strand).
template <class Pred>
bool eventually(Pred done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace mnigs::test
