#include "harness/reaper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "harness/netns.hpp"

extern char** environ;

namespace mnigs::test {

namespace {

constexpr const char* reaper_env = "MNIGS_REAPER_FD";
constexpr int reaper_cmd_fd = 3;    // the pipe from the test process
constexpr int reaper_ready_fd = 4;  // tells the test process we run

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

// Start time (in clock ticks since boot) of a process; lets the reaper tell
// "our" daemon from an unrelated process that got the same PID later.
unsigned long long start_time(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  auto paren = line.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(line.substr(paren + 2));
  std::string field;
  for (int i = 3; i < 22 && rest >> field; ++i) {
  }
  unsigned long long ticks = 0;
  rest >> ticks;
  return ticks;
}

// What the test process has told the reaper about, and not yet taken back.
struct Remembered {
  std::set<std::string> namespaces;
  std::map<pid_t, unsigned long long> pids;  // PID -> start time
  std::set<std::string> dirs;

  // Applies one line of the protocol. Only what the harness itself creates
  // is accepted, whatever arrives on the pipe.
  void apply(const std::string& line) {
    auto space = line.find(' ');
    if (space == std::string::npos) return;
    const std::string verb = line.substr(0, space), arg = line.substr(space + 1);
    const pid_t pid = static_cast<pid_t>(std::atol(arg.c_str()));
    if (verb == "ns" && starts_with(arg, "mn")) namespaces.insert(arg);
    if (verb == "forget-ns") namespaces.erase(arg);
    if (verb == "pid" && pid > 1) pids[pid] = start_time(pid);
    if (verb == "forget-pid") pids.erase(pid);
    if (verb == "dir" && starts_with(arg, "/tmp/mnigs-") && arg.find("..") == std::string::npos)
      dirs.insert(arg);
    if (verb == "forget-dir") dirs.erase(arg);
  }
};

void note(const std::string& msg) {
  std::string line = "[reaper " + std::to_string(::getpid()) + "] " + msg + "\n";
  (void)!::write(2, line.data(), line.size());
}

// The reaper proper. It runs in a freshly exec'd copy of the test binary (see
// Reaper::ensure_started), never in a forked copy of a threaded process, so
// it may use the whole library.
[[noreturn]] void reaper_main() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) ::signal(sig, SIG_IGN);
  ::unsetenv(reaper_env);
  std::string ready = std::to_string(::getpid()) + "\n";
  (void)!::write(reaper_ready_fd, ready.data(), ready.size());
  ::close(reaper_ready_fd);

  Remembered remembered;
  std::string pending;
  char buf[4096];
  for (;;) {
    ssize_t got = ::read(reaper_cmd_fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF: the test process is gone
    pending.append(buf, static_cast<size_t>(got));
    for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
      remembered.apply(pending.substr(0, nl));
      pending.erase(0, nl + 1);
    }
  }
  const auto& [namespaces, pids, dirs] = remembered;

  std::vector<pid_t> victims;
  for (auto [pid, ticks] : pids)
    if (process_alive(pid) && start_time(pid) == ticks) victims.push_back(pid);
  if (!victims.empty())
    note("test process gone; ending " + std::to_string(victims.size()) + " process(es)");
  for (pid_t p : terminate_processes(victims))
    note("process " + std::to_string(p) + " survived SIGKILL");
  for (const auto& ns : namespaces) {
    note("deleting namespace " + ns);
    if (auto err = destroy_namespace(ns); !err.empty()) note(err);
  }
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  ::_exit(0);
}

// A test binary re-executed as the reaper takes this branch during static
// initialisation, before main() could run any test.
[[maybe_unused]] const bool reaper_mode = [] {
  if (const char* fd = std::getenv(reaper_env); fd && std::atoi(fd) == reaper_cmd_fd) reaper_main();
  return false;
}();

}  // namespace

Reaper& Reaper::instance() {
  static Reaper reaper;
  return reaper;
}

pid_t Reaper::reaper_pid() const {
  std::lock_guard lock(mutex_);
  return owner_ == ::getpid() ? reaper_pid_ : 0;
}

void Reaper::ensure_started() {
  if (owner_ == ::getpid() && write_fd_ >= 0) return;
  // A forked child inherits its parent's pipe; keeping it open would hide the
  // parent's death from the parent's reaper, and its own lines would go there.
  if (write_fd_ >= 0) ::close(write_fd_);
  write_fd_ = -1;
  reaper_pid_ = 0;
  // Writing to a dead reaper must fail with EPIPE, not kill the test.
  ::signal(SIGPIPE, SIG_IGN);

  int cmd[2], ready[2];
  if (::pipe2(cmd, O_CLOEXEC) != 0) throw std::runtime_error("reaper: pipe2 failed");
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    ::close(cmd[0]);
    ::close(cmd[1]);
    throw std::runtime_error("reaper: pipe2 failed");
  }
  // Everything the children need is built now: after fork() in a threaded
  // process only async-signal-safe calls are allowed until exec.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e)
    if (!starts_with(*e, std::string(reaper_env) + "=")) env_strings.emplace_back(*e);
  env_strings.push_back(std::string(reaper_env) + "=" + std::to_string(reaper_cmd_fd));
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  char arg0[] = "mnigs-test-reaper";
  char* argv[] = {arg0, nullptr};
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);

  pid_t middle = ::fork();
  if (middle == 0) {
    // Own session: Ctrl-C and process-group kills do not reach the reaper.
    // The extra fork makes it nobody's child, so killing the test's process
    // tree (as ctest does on timeout) does not reach it either.
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    int r = ::fcntl(cmd[0], F_DUPFD, 10), w = ::fcntl(ready[1], F_DUPFD, 10);
    ::dup2(r, reaper_cmd_fd);
    ::dup2(w, reaper_ready_fd);
    if (null_fd >= 0) {
      ::dup2(null_fd, 0);
      ::dup2(null_fd, 1);
    }
    ::close_range(reaper_ready_fd + 1, ~0U, 0);
    if (::chdir("/") != 0) ::_exit(126);
    ::execve("/proc/self/exe", argv, envp.data());
    ::_exit(127);
  }
  ::close(cmd[0]);
  ::close(ready[1]);
  if (null_fd >= 0) ::close(null_fd);
  if (middle > 0) ::waitpid(middle, nullptr, 0);

  std::string answer;
  pollfd pfd{ready[0], POLLIN, 0};
  for (int round = 0; round < 100 && answer.find('\n') == std::string::npos; ++round) {
    if (::poll(&pfd, 1, 100) <= 0) continue;
    char buf[32];
    ssize_t got = ::read(ready[0], buf, sizeof buf);
    if (got <= 0) break;
    answer.append(buf, static_cast<size_t>(got));
  }
  ::close(ready[0]);
  if (middle < 0 || answer.find('\n') == std::string::npos) {
    ::close(cmd[1]);
    throw std::runtime_error("the cleanup reaper did not start; refusing to create anything");
  }
  write_fd_ = cmd[1];
  owner_ = ::getpid();
  reaper_pid_ = static_cast<pid_t>(std::atol(answer.c_str()));
}

void Reaper::send(const std::string& line, bool must_arrive) {
  std::lock_guard lock(mutex_);
  // Nothing to forget if this process never started a reaper.
  if (!must_arrive && (owner_ != ::getpid() || write_fd_ < 0)) return;
  try {
    ensure_started();
  } catch (...) {
    if (must_arrive) throw;
    return;
  }
  std::string msg = line + "\n";  // short lines: one write() is atomic on a pipe
  for (int attempt = 0; attempt < 10; ++attempt) {
    ssize_t n = ::write(write_fd_, msg.data(), msg.size());
    if (n == static_cast<ssize_t>(msg.size())) return;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  if (must_arrive) throw std::runtime_error("the cleanup reaper is gone (" + line + ")");
}

void Reaper::watch_namespace(const std::string& ns) { send("ns " + ns, true); }
void Reaper::watch_pid(pid_t pid) { send("pid " + std::to_string(pid), true); }

void Reaper::watch_dir(const std::string& path) {
  if (!starts_with(path, "/tmp/mnigs-"))
    throw std::invalid_argument("reaper only removes directories under /tmp/mnigs-: " + path);
  send("dir " + path, true);
}

void Reaper::forget_namespace(const std::string& ns) noexcept { send("forget-ns " + ns, false); }
void Reaper::forget_pid(pid_t pid) noexcept { send("forget-pid " + std::to_string(pid), false); }
void Reaper::forget_dir(const std::string& path) noexcept { send("forget-dir " + path, false); }

}  // namespace mnigs::test
