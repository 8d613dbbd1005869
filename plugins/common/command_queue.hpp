// Running ip(8), nft(8) and sysctl(8) for the tunnel plugins: one command
// description, how its outcome reads (done, already gone, already there,
// failed), and a queue that runs the plugin's operations one at a time so
// that the commands of two operations never interleave.
//
// Threading: everything here runs on the plugin's strand (the host calls the
// plugin there and PluginContext::run completes there); no locks.
#pragma once

#include <mnigs/plugin.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace mnigs::netcmd {

// One command for PluginContext::run.
struct Command {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::string input;              // stdin, e.g. an nft script; "" for none
  // A removal: answers saying the object is already gone count as success.
  bool removal = false;
  // Run again after each success, at most this many times in all (for
  // "ip rule del priority P", which removes one rule per call).
  unsigned repeat = 1;
  // Best effort: a failure is logged as a warning and is no error (for a
  // nicety some kernels refuse, such as addrgenmode without IPv6).
  bool best_effort = false;
};

// "ip -6 rule add priority 31001 lookup 65533", for messages and logs.
std::string to_string(const Command& command);

// The program could not be executed (not installed, fork failed).
bool did_not_start(const CommandOutcome& outcome);
// Exit status 0 within the deadline.
bool succeeded(const CommandOutcome& outcome);
// The command failed because what it removes does not exist: "No such file
// or directory" (nft, ip rule), "No such process" (ip route), "does not
// exist" (an ip route table never created).
bool already_gone(const CommandOutcome& outcome);
// The command failed because what it adds is there already ("File exists").
bool already_there(const CommandOutcome& outcome);
// Success, or for a removal, already gone; anything for a best-effort one.
bool acceptable(const Command& command, const CommandOutcome& outcome);

// One sentence naming the command and what went wrong, e.g.
// "`ip rule add priority 31000 lookup main suppress_prefixlength 0` failed:
// RTNETLINK answers: Operation not permitted".
std::string failure_sentence(const Command& command, const CommandOutcome& outcome);

// Serializes the plugin's operations. An operation is a function that issues
// its commands with run() one after the other and calls `finished` once at
// the end; the next operation starts only then. Commands given to run() are
// dropped when the queue has been stopped or destroyed.
class CommandQueue {
 public:
  using Finished = std::function<void()>;
  using Operation = std::function<void(Finished finished)>;
  // Tells an operation's caller that it will not complete (the plugin stops).
  using Cancel = std::function<void(const std::string& reason)>;
  using Then = std::function<void(const CommandOutcome& outcome)>;

  CommandQueue(PluginContext& context, std::chrono::milliseconds timeout);
  ~CommandQueue();
  CommandQueue(const CommandQueue&) = delete;
  CommandQueue& operator=(const CommandQueue&) = delete;

  // Starts `operation` now when idle (it may finish before enqueue returns),
  // else after the earlier ones. After stop(), `cancel` is called at once.
  void enqueue(Operation operation, Cancel cancel);

  // For the running operation: runs one command and calls `then` with its
  // outcome, on the strand. `then` is not called after stop().
  void run(const Command& command, Then then);

  // Runs `commands` in order whatever each answers (honouring `repeat`),
  // then `then(first_error)`: the failure sentence of the first command whose
  // outcome was not acceptable, or "". With `missing_tool_ok`, a program that
  // cannot be executed is no error (nothing can exist that it would remove).
  void run_all(std::vector<Command> commands, bool missing_tool_ok,
               std::function<void(std::string first_error)> then);
  // Runs `commands` in order, stopping at the first whose outcome is not
  // acceptable; then(its failure sentence), or then("") when all were.
  void run_steps(std::vector<Command> commands, std::function<void(std::string error)> then);

  // Cancels the running and the queued operations, then hands `final` to
  // PluginContext::run all at once without waiting for any of them (each is
  // run `min(repeat, 4)` times). Later enqueue() calls are cancelled.
  void stop(const std::vector<Command>& final);

  // `then`, made to do nothing once the queue is stopped or destroyed, as
  // run() does for its outcomes: for the other completions an operation waits
  // for, such as the store's.
  template <class... Args>
  std::function<void(Args...)> guard(std::type_identity_t<std::function<void(Args...)>> then) {
    std::weak_ptr<char> alive = alive_;
    return [this, alive, then = std::move(then)](Args... args) {
      if (alive.expired() || stopped_) return;
      then(std::move(args)...);
    };
  }

  PluginContext& context() { return context_; }
  bool stopped() const { return stopped_; }
  // Operations running or waiting.
  std::size_t pending() const { return queue_.size() + (busy_ ? 1 : 0); }

 private:
  struct Pending {
    Operation operation;
    Cancel cancel;
  };
  struct AllState;
  void start_next();
  void step_all(std::shared_ptr<AllState> state);

  PluginContext& context_;
  std::chrono::milliseconds timeout_;
  // Completions hold a weak reference: once the queue is gone they do nothing.
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);
  std::deque<Pending> queue_;
  bool busy_ = false;
  bool starting_ = false;  // inside start_next(), to keep it from recursing
  bool stopped_ = false;
  std::uint64_t current_ = 0;  // id of the running operation
  Cancel current_cancel_;
};

}  // namespace mnigs::netcmd
