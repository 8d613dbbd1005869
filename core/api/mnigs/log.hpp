// Logging as plugins and the core see it: a named logger with four levels.
// Implemented by the daemon (core/log); thread-safe.
#pragma once

#include <sstream>
#include <string_view>
#include <utility>

namespace mnigs {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

class Logger {
 public:
  virtual ~Logger() = default;
  virtual bool enabled(LogLevel level) const = 0;
  // Writes one line; `message` has no trailing newline.
  virtual void write(LogLevel level, std::string_view message) = 0;

  template <class... Args>
  void error(Args&&... args) { log(LogLevel::error, std::forward<Args>(args)...); }
  template <class... Args>
  void warn(Args&&... args) { log(LogLevel::warn, std::forward<Args>(args)...); }
  template <class... Args>
  void info(Args&&... args) { log(LogLevel::info, std::forward<Args>(args)...); }
  template <class... Args>
  void debug(Args&&... args) { log(LogLevel::debug, std::forward<Args>(args)...); }

  template <class... Args>
  void log(LogLevel level, Args&&... args) {
    if (!enabled(level)) return;
    std::ostringstream out;
    (out << ... << std::forward<Args>(args));
    write(level, out.str());
  }
};

}  // namespace mnigs
