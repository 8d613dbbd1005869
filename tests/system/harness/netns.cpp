#include "harness/netns.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

namespace mnigs::test {

namespace {

constexpr auto poll_step = 20ms;

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Opened before fork(): between fork() and exec() a child of a threaded
// process may only make async-signal-safe calls, so everything it needs
// (fds, argv pointers, messages) is prepared by the parent.
int open_ns_fd(const std::string& ns) {
  if (ns.empty()) return -1;
  std::string path = "/run/netns/" + ns;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
  return fd;
}

int open_or_throw(const char* path, int flags, mode_t mode = 0) {
  int fd = ::open(path, flags | O_CLOEXEC, mode);
  if (fd < 0)
    throw std::runtime_error(std::string("cannot open ") + path + ": " + std::strerror(errno));
  return fd;
}

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("empty command");
  std::vector<char*> v;
  for (const auto& a : argv) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

// Child side after fork(): join the namespace, wire up stdio and drop the
// signal dispositions a test binary may have changed (ignored signals survive
// exec and would change how the daemon reacts to SIGPIPE or SIGTERM).
[[noreturn]] void exec_child(int ns_fd, int in_fd, int out_fd, int err_fd, char* const* argv,
                             bool search_path, const std::string& fail_msg) {
  if (ns_fd >= 0 && ::setns(ns_fd, CLONE_NEWNET) != 0) {
    static const char msg[] = "setns(CLONE_NEWNET) failed\n";
    (void)!::write(err_fd, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::dup2(in_fd, 0);
  ::dup2(out_fd, 1);
  ::dup2(err_fd, 2);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD}) ::signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (search_path)
    ::execvp(argv[0], argv);
  else
    ::execv(argv[0], argv);
  (void)!::write(2, fail_msg.data(), fail_msg.size());
  ::_exit(127);
}

}  // namespace

CommandError::CommandError(const std::vector<std::string>& argv, const CommandResult& result)
    : std::runtime_error("command failed (" +
                         (result.timed_out ? std::string("timed out")
                                           : "exit " + std::to_string(result.exit_code)) +
                         "): " + join(argv) + (result.err.empty() ? "" : "\n" + result.err)),
      result_(result) {}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& ns,
                          std::chrono::milliseconds timeout) {
  auto args = c_argv(argv);
  const std::string fail_msg = "cannot execute " + argv[0] + "\n";
  int ns_fd = open_ns_fd(ns);
  int null_fd = open_or_throw("/dev/null", O_RDONLY);
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid == 0) exec_child(ns_fd, null_fd, out[1], err[1], args.data(), true, fail_msg);
  for (int fd : {ns_fd, null_fd, out[1], err[1]})
    if (fd >= 0) ::close(fd);
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }

  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool killed = false;
  // After a kill, a grandchild may still hold the pipes open; give it a
  // second, then stop reading rather than wait for an EOF that may never come.
  auto read_deadline = deadline;
  while (open_fds > 0) {
    auto now = std::chrono::steady_clock::now();
    if (now >= read_deadline) {
      if (killed) break;
      ::kill(pid, SIGKILL);
      killed = result.timed_out = true;
      read_deadline = now + 1s;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(read_deadline - now);
    int n = ::poll(fds, 2, static_cast<int>(std::max<long>(1, left.count())));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;  // revents are stale after EINTR or a timeout
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);

  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  auto code = wait_exit(pid, std::max(left, std::chrono::milliseconds(0)));
  if (!code) {
    ::kill(pid, SIGKILL);
    result.timed_out = true;
    code = wait_exit(pid, 5s);
  }
  result.exit_code = code.value_or(-1);
  return result;
}

std::string run_checked(const std::vector<std::string>& argv, const std::string& ns,
                        std::chrono::milliseconds timeout) {
  auto result = run_command(argv, ns, timeout);
  if (result.exit_code != 0 || result.timed_out) throw CommandError(argv, result);
  return result.out;
}

pid_t spawn_in_ns(const std::string& ns, const std::vector<std::string>& argv,
                  const std::string& log_path) {
  auto args = c_argv(argv);
  const std::string fail_msg = "cannot execute " + argv[0] + "\n";
  int ns_fd = open_ns_fd(ns);
  int null_fd = open_or_throw("/dev/null", O_RDONLY);
  int log_fd = open_or_throw(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = ::fork();
  if (pid == 0) exec_child(ns_fd, null_fd, log_fd, log_fd, args.data(), false, fail_msg);
  for (int fd : {ns_fd, null_fd, log_fd})
    if (fd >= 0) ::close(fd);
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  return pid;
}

std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const long max_rounds = timeout / poll_step + 2;
  for (long round = 0; round < max_rounds; ++round) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return decode_status(status);
    // Not our child (or already reaped): all we can tell is whether it is gone.
    if (r < 0 && errno == ECHILD && !process_alive(pid)) return -1;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(poll_step);
  }
  return std::nullopt;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // The state follows the last ')' (the command name may contain one).
  auto paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return false;
  char state = line[paren + 2];
  return state != 'Z' && state != 'X';
}

std::vector<pid_t> terminate_processes(const std::vector<pid_t>& pids,
                                       std::chrono::milliseconds grace) {
  std::vector<pid_t> left;
  for (pid_t p : pids)
    if (p > 1 && p != ::getpid()) left.push_back(p);
  for (int sig : {SIGTERM, SIGKILL}) {
    for (pid_t p : left) ::kill(p, sig);
    const long max_rounds = grace / poll_step + 1;
    for (long round = 0; round < max_rounds && !left.empty(); ++round) {
      std::this_thread::sleep_for(poll_step);
      std::erase_if(left, [](pid_t p) {
        int status;
        ::waitpid(p, &status, WNOHANG);  // reaps it if it is our child
        return !process_alive(p);
      });
    }
    if (left.empty()) break;
  }
  return left;
}

void validate_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 8;
  for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok) throw std::invalid_argument("bad name \"" + name + "\": want [a-z0-9-]{1,8}");
}

std::string ns_prefix() { return "mn" + std::to_string(::getpid()) + "-"; }

std::vector<std::string> list_namespaces() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec))
    names.push_back(entry.path().filename().string());
  return names;
}

std::vector<pid_t> namespace_pids(const std::string& ns) {
  auto result = run_command({"ip", "netns", "pids", ns}, "", 10s);
  std::vector<pid_t> pids;
  std::istringstream in(result.out);
  for (long p; in >> p;) pids.push_back(static_cast<pid_t>(p));
  return pids;
}

void create_namespace(const std::string& ns) { run_checked({"ip", "netns", "add", ns}); }

std::string destroy_namespace(const std::string& ns) {
  try {
    auto names = list_namespaces();
    if (std::find(names.begin(), names.end(), ns) == names.end()) return "";
    auto stuck = terminate_processes(namespace_pids(ns));
    std::string error;
    for (pid_t p : stuck)
      error += "process " + std::to_string(p) + " in " + ns + " survived SIGKILL; ";
    auto result = run_command({"ip", "netns", "del", ns}, "", 10s);
    if (result.exit_code != 0) error += "ip netns del " + ns + ": " + result.err;
    return error;
  } catch (const std::exception& e) {
    return e.what();
  }
}

void sweep_stale_namespaces() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (const auto& name : list_namespaces()) {
      if (name.rfind("mn", 0) != 0) continue;
      auto dash = name.find('-', 2);
      if (dash == std::string::npos || dash == 2) continue;
      std::string digits = name.substr(2, dash - 2);
      if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9)
        continue;
      pid_t owner = static_cast<pid_t>(std::stol(digits));
      // A live owner (even one we may not signal) still uses its namespaces.
      if (owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
      std::cerr << "[harness] removing stale namespace " << name << "\n";
      if (auto err = destroy_namespace(name); !err.empty())
        std::cerr << "[harness] " << err << "\n";
    }
  });
}

void run_in_netns_thread(const std::string& ns, const std::function<void()>& fn) {
  int fd = open_ns_fd(ns);
  std::exception_ptr failure;
  // setns(CLONE_NEWNET) changes only the calling thread, so a throwaway
  // thread lets the test keep its own namespace.
  std::thread worker([&] {
    try {
      if (fd >= 0 && ::setns(fd, CLONE_NEWNET) != 0)
        throw std::runtime_error("setns into " + ns + ": " + std::strerror(errno));
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (fd >= 0) ::close(fd);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace mnigs::test
