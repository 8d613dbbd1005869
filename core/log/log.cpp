#include "log/log.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace mnigs {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::info)};
}

void StderrLogger::set_level(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel StderrLogger::level() { return static_cast<LogLevel>(g_level.load()); }

bool StderrLogger::enabled(LogLevel level) const {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void StderrLogger::write(LogLevel level, std::string_view message) {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  int ms = static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
  // One write(2) per line so lines from several threads never interleave.
  std::string line;
  line.reserve(message.size() + name_.size() + 48);
  char head[64];
  std::snprintf(head, sizeof head, "%s.%03d %-5s ", stamp, ms, to_string(level));
  line += head;
  line += '[';
  line += name_;
  line += "] ";
  line += message;
  line += '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  if (text == "error") return LogLevel::error;
  if (text == "warn" || text == "warning") return LogLevel::warn;
  if (text == "info") return LogLevel::info;
  if (text == "debug") return LogLevel::debug;
  return std::nullopt;
}

const char* to_string(LogLevel level) {
  switch (level) {
    case LogLevel::error: return "error";
    case LogLevel::warn: return "warn";
    case LogLevel::info: return "info";
    case LogLevel::debug: return "debug";
  }
  return "?";
}

}  // namespace mnigs
