// Shared bits for unit tests: a recording logger, temp directories, the core
// config with overrides.
#pragma once

#include "config/config.hpp"

#include <mnigs/log.hpp>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
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

}  // namespace mnigs::test
