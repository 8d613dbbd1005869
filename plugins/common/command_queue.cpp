#include "command_queue.hpp"

#include <mnigs/log.hpp>

#include <algorithm>
#include <string_view>
#include <utility>

namespace mnigs::netcmd {

namespace {

bool contains(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

// The Debian package that provides a tool, so the message says what to install.
std::string package_of(const std::string& program) {
  if (program == "nft") return "nftables";
  if (program == "ip") return "iproute2";
  if (program == "sysctl") return "procps";
  return program;
}

// The first non-empty line of what the tool said. nft follows its error with
// the offending command and a line of carets, which add nothing in a sentence.
std::string first_line(const std::string& text) {
  std::size_t pos = 0;
  // Bounded by the text: each pass moves past one line.
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    auto line = text.substr(pos, end - pos);
    auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos) {
      auto last = line.find_last_not_of(" \t\r");
      return line.substr(first, last - first + 1);
    }
    pos = end + 1;
  }
  return "";
}

}  // namespace

std::string to_string(const Command& command) {
  std::string out;
  for (const auto& arg : command.argv) out += (out.empty() ? "" : " ") + arg;
  return out;
}

// 127 is what a shell-less runner reports when exec fails in the child.
bool did_not_start(const CommandOutcome& outcome) {
  return !outcome.timed_out && (outcome.exit_code == -1 || outcome.exit_code == 127);
}

bool succeeded(const CommandOutcome& outcome) {
  return outcome.exit_code == 0 && !outcome.timed_out;
}

bool already_gone(const CommandOutcome& outcome) {
  if (succeeded(outcome) || did_not_start(outcome) || outcome.timed_out) return false;
  const auto& e = outcome.err;
  return contains(e, "No such file or directory") || contains(e, "No such process") ||
         contains(e, "does not exist");
}

bool already_there(const CommandOutcome& outcome) {
  if (succeeded(outcome) || did_not_start(outcome) || outcome.timed_out) return false;
  return contains(outcome.err, "File exists");
}

bool acceptable(const Command& command, const CommandOutcome& outcome) {
  return succeeded(outcome) || (command.removal && already_gone(outcome)) ||
         command.best_effort;
}

std::string failure_sentence(const Command& command, const CommandOutcome& outcome) {
  const std::string text = "`" + to_string(command) + "`";
  const std::string program = command.argv.empty() ? "" : command.argv.front();
  if (did_not_start(outcome)) {
    auto why = first_line(outcome.err);
    return "could not run " + text + ": " + program + " is not installed or not in PATH (package " +
           package_of(program) + ")" + (why.empty() ? "" : " (" + why + ")");
  }
  if (outcome.timed_out) return text + " did not finish in time and was killed";
  auto why = first_line(outcome.err);
  if (why.empty()) why = first_line(outcome.out);
  if (why.empty()) return text + " failed with exit status " + std::to_string(outcome.exit_code);
  return text + " failed: " + why;
}

struct CommandQueue::AllState {
  std::vector<Command> commands;
  std::size_t index = 0;
  unsigned runs = 0;  // runs of commands[index] so far
  bool missing_tool_ok = false;
  std::string first_error;
  std::function<void(std::string)> then;
};

CommandQueue::CommandQueue(PluginContext& context, std::chrono::milliseconds timeout)
    : context_(context), timeout_(timeout) {}

CommandQueue::~CommandQueue() = default;

void CommandQueue::enqueue(Operation operation, Cancel cancel) {
  if (stopped_) {
    if (cancel) cancel("plugin " + context_.name() + " is stopping");
    return;
  }
  queue_.push_back({std::move(operation), std::move(cancel)});
  start_next();
}

void CommandQueue::start_next() {
  // An operation that finishes at once calls back in here; the loop below
  // picks up the next one instead of recursing.
  if (starting_) return;
  starting_ = true;
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{starting_};
  // Bounded by the queue: each pass takes one operation off it.
  while (!busy_ && !stopped_ && !queue_.empty()) {
    Pending next = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    const auto id = ++current_;
    current_cancel_ = std::move(next.cancel);
    std::weak_ptr<char> alive = alive_;
    next.operation([this, alive, id] {
      // Ignore a late call (after stop) and a second one.
      if (alive.expired() || id != current_ || !busy_) return;
      busy_ = false;
      current_cancel_ = nullptr;
      start_next();
    });
  }
}

void CommandQueue::run(const Command& command, Then then) {
  if (stopped_) return;
  std::weak_ptr<char> alive = alive_;
  context_.run(command.argv, command.input, timeout_,
               [this, alive, command, then = std::move(then)](CommandOutcome outcome) {
                 if (alive.expired() || stopped_) return;
                 if (command.best_effort && !succeeded(outcome))
                   context_.log().warn(failure_sentence(command, outcome),
                                       " (best effort: going on)");
                 then(outcome);
               });
}

void CommandQueue::run_all(std::vector<Command> commands, bool missing_tool_ok,
                           std::function<void(std::string)> then) {
  auto state = std::make_shared<AllState>();
  state->commands = std::move(commands);
  state->missing_tool_ok = missing_tool_ok;
  state->then = std::move(then);
  step_all(std::move(state));
}

void CommandQueue::run_steps(std::vector<Command> commands,
                             std::function<void(std::string)> then) {
  if (commands.empty()) return then("");
  Command first = std::move(commands.front());
  commands.erase(commands.begin());
  run(first, [this, first, rest = std::move(commands), then](const CommandOutcome& o) mutable {
    if (!acceptable(first, o)) return then(failure_sentence(first, o));
    run_steps(std::move(rest), std::move(then));
  });
}

void CommandQueue::step_all(std::shared_ptr<AllState> state) {
  if (state->index >= state->commands.size()) {
    auto then = std::move(state->then);
    then(state->first_error);
    return;
  }
  run(state->commands[state->index], [this, state](const CommandOutcome& outcome) {
    const Command& command = state->commands[state->index];
    ++state->runs;
    // Bounded by `repeat`: "ip rule del priority P" removes one rule a call.
    if (succeeded(outcome) && state->runs < command.repeat) {
      step_all(state);
      return;
    }
    const bool fine =
        acceptable(command, outcome) || (state->missing_tool_ok && did_not_start(outcome));
    if (!fine && state->first_error.empty())
      state->first_error = failure_sentence(command, outcome);
    ++state->index;
    state->runs = 0;
    step_all(state);
  });
}

void CommandQueue::stop(const std::vector<Command>& final) {
  stopped_ = true;
  std::vector<Cancel> cancels;
  if (busy_ && current_cancel_) cancels.push_back(std::move(current_cancel_));
  busy_ = false;
  current_cancel_ = nullptr;
  for (auto& pending : queue_)
    if (pending.cancel) cancels.push_back(std::move(pending.cancel));
  queue_.clear();
  for (auto& cancel : cancels) cancel("plugin " + context_.name() + " stopped before this operation finished");
  // Nobody will look at the outcomes: the strand may not run again. The
  // host's runner executes commands in the order they were handed over, so
  // these run after whatever command was in flight.
  for (const auto& command : final) {
    const unsigned times = std::clamp(command.repeat, 1u, 4u);
    for (unsigned i = 0; i < times; ++i) context_.run(command.argv, command.input, timeout_, {});
  }
}

}  // namespace mnigs::netcmd
