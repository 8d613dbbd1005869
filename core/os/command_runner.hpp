// Running external commands (ip, nft, sysctl, hook scripts) off the event
// loop: fork/exec without a shell, stdin from a string, stdout/stderr
// captured, killed (with every process it started) at a deadline, whether or
// not it still holds its output open. Commands run one at a time per runner, in
// the order given, on the runner's own thread. Thread-safe.
#pragma once

#include <mnigs/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mnigs::os {

struct Command {
  std::vector<std::string> argv;  // argv[0] is searched in PATH
  std::string input;              // written to stdin, which is then closed
  std::chrono::milliseconds timeout{10000};
  std::map<std::string, std::string> env;  // added to the daemon's environment
  std::size_t max_output = 1 << 20;         // of stdout and of stderr each; the rest is dropped
};

// Runs one command now, on the calling thread. Never throws.
CommandOutcome run_command(const Command& command);

// "`nft -f -` failed (exit 1): Error: ...": the command and what went wrong,
// for logs and status.
std::string failure_sentence(const Command& command, const CommandOutcome& outcome);

class CommandRunner {
 public:
  CommandRunner();
  // Waits for the command running now; commands still queued are dropped
  // (their callbacks are not called).
  ~CommandRunner();
  CommandRunner(const CommandRunner&) = delete;
  CommandRunner& operator=(const CommandRunner&) = delete;

  // Queues `command`; `done` runs on the runner's thread when it finished:
  // post from there to where the result is wanted.
  void submit(Command command, std::function<void(CommandOutcome)> done);
  // Blocks until every command queued so far has run (for shutdown).
  void drain();
  // Commands queued or running.
  std::size_t pending() const;

 private:
  void loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<std::pair<Command, std::function<void(CommandOutcome)>>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace mnigs::os
