// The daemon's logging: lines to stderr with time, level and the logger's
// name. One process-wide level; thread-safe.
#pragma once

#include <mnigs/log.hpp>

#include <atomic>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs {

class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(std::string name) : name_(std::move(name)) {}
  bool enabled(LogLevel level) const override;
  void write(LogLevel level, std::string_view message) override;
  const std::string& name() const { return name_; }

  // Process-wide threshold; lines above it are dropped.
  static void set_level(LogLevel level);
  static LogLevel level();

 private:
  std::string name_;
};

// "error", "warn", "info", "debug" -> level.
std::optional<LogLevel> parse_log_level(std::string_view text);
const char* to_string(LogLevel level);

}  // namespace mnigs
