// Network namespaces and processes for the system tests: running commands
// (optionally inside a namespace) with a deadline, spawning long-lived
// processes into a namespace, and removing namespaces with everything in them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mnigs::test {

using namespace std::chrono_literals;

// What a finished command left behind.
struct CommandResult {
  int exit_code = -1;      // exit status, or 128 + signal number when killed
  bool timed_out = false;  // the deadline passed and the command was SIGKILLed
  std::string out;         // everything written to stdout
  std::string err;         // everything written to stderr
};

// Thrown when a command that must succeed does not; what() names the command
// and carries its stderr.
class CommandError : public std::runtime_error {
 public:
  CommandError(const std::vector<std::string>& argv, const CommandResult& result);
  const CommandResult& result() const { return result_; }

 private:
  CommandResult result_;
};

// Runs argv (PATH is searched) inside namespace `ns` ("" = the caller's own
// namespace), stdin from /dev/null, and collects stdout/stderr. The command is
// SIGKILLed when `timeout` passes. Never throws for a non-zero exit.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& ns = "",
                          std::chrono::milliseconds timeout = 30s);

// Like run_command but throws CommandError unless the command exits 0;
// returns its stdout.
std::string run_checked(const std::vector<std::string>& argv, const std::string& ns = "",
                        std::chrono::milliseconds timeout = 30s);

// Starts argv (an absolute path; no PATH search) inside namespace `ns` with
// stdout and stderr appended to `log_path` and stdin from /dev/null; returns
// its PID. The caller owns the child and must reap it (see wait_exit).
pid_t spawn_in_ns(const std::string& ns, const std::vector<std::string>& argv,
                  const std::string& log_path);

// Waits up to `timeout` for child `pid` to exit and reaps it. Returns its exit
// code (128 + signal when killed), or nullopt if it is still running.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout);

// True while process `pid` exists and is not a zombie (works for processes
// that are not our children, too).
bool process_alive(pid_t pid);

// Sends SIGTERM to each PID, waits up to `grace` for them to go away, then
// SIGKILLs the rest and waits up to `grace` again. Our own children are reaped
// on the way. Returns the PIDs still alive afterwards (normally none).
std::vector<pid_t> terminate_processes(const std::vector<pid_t>& pids,
                                       std::chrono::milliseconds grace = 3s);

// Throws std::invalid_argument unless `name` matches [a-z0-9-]{1,8}.
void validate_name(const std::string& name);

// "mn<pid>-": the prefix of every namespace this process creates.
std::string ns_prefix();

// Names of all named network namespaces (the entries of /run/netns).
std::vector<std::string> list_namespaces();

// PIDs of the processes whose network namespace is `ns` (ip netns pids).
std::vector<pid_t> namespace_pids(const std::string& ns);

// Creates namespace `ns` (ip netns add).
void create_namespace(const std::string& ns);

// Ends every process inside `ns`, then deletes it. Returns an error text, or
// "" on success; never throws, so it is safe in destructors.
std::string destroy_namespace(const std::string& ns);

// Removes namespaces "mn<PID>-*" whose PID no longer exists: leftovers of a
// run that died together with its reaper. Runs at most once per process.
void sweep_stale_namespaces();

// Runs fn on a short-lived thread that has first joined namespace `ns`
// ("" = stay in the caller's namespace); the caller's own thread never
// changes namespace. Exceptions thrown by fn are rethrown here.
void run_in_netns_thread(const std::string& ns, const std::function<void()>& fn);

}  // namespace mnigs::test
