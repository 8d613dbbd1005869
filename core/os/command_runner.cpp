#include "os/command_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

extern char** environ;

namespace mnigs::os {
namespace {

constexpr std::size_t kOutputCap = 1 << 20;
// Waiting for a process that closed its output: polled at most this far apart.
constexpr std::chrono::milliseconds max_pause{50};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string failure_sentence(const Command& c, const CommandOutcome& o) {
  std::string argv;
  for (const auto& a : c.argv) argv += (argv.empty() ? "" : " ") + a;
  std::string why = o.err.empty() ? o.out : o.err;
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  if (o.exit_code == -1) return "`" + argv + "` could not be run: " + why;
  if (o.timed_out) return "`" + argv + "` did not finish in time";
  return "`" + argv + "` failed (exit " + std::to_string(o.exit_code) + ")" +
         (why.empty() ? "" : ": " + why);
}

CommandOutcome run_command(const Command& command) {
  CommandOutcome outcome;
  if (command.argv.empty()) {
    outcome.err = "empty command";
    return outcome;
  }
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return outcome;
  if (::pipe2(out, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]);
    return outcome;
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]), ::close(in[1]), ::close(out[0]), ::close(out[1]);
    return outcome;
  }
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    auto name = entry.substr(0, entry.find('='));
    if (!command.env.count(std::string(name))) env_storage.emplace_back(entry);
  }
  for (const auto& [k, v] : command.env) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  long open_max = ::sysconf(_SC_OPEN_MAX);  // -1 when unknown
  if (open_max <= 0 || open_max > 65536) open_max = 65536;

  pid_t pid = ::fork();
  if (pid > 0) ::setpgid(pid, pid);  // also here: no race with the kill below
  if (pid < 0) {
    outcome.err = std::string("fork failed: ") + std::strerror(errno);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
    return outcome;
  }
  if (pid == 0) {
    // Its own process group, so a timeout ends whatever a hook script started too.
    ::setpgid(0, 0);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    // Nothing of mnigsd's but those three: a daemon the command starts
    // (openvpn --daemon) would otherwise hold mnigsd's listening sockets
    // and database after mnigsd is gone. close_range where the kernel has
    // it (5.9), each descriptor where not.
    bool closed = false;
#ifdef SYS_close_range
    closed = ::syscall(SYS_close_range, 3U, ~0U, 0U) == 0;
#endif
    for (long fd = 3; !closed && fd < open_max; ++fd) ::close(static_cast<int>(fd));
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvpe(argv[0], argv.data(), envp.data());
    const char msg[] = "cannot execute command\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  int in_fd = in[1], out_fd = out[0], err_fd = err[0];
  ::fcntl(in_fd, F_SETFL, O_NONBLOCK);
  std::size_t written = 0;
  if (command.input.empty()) close_fd(in_fd);

  const auto deadline = std::chrono::steady_clock::now() + command.timeout;
  while (out_fd >= 0 || err_fd >= 0 || in_fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      outcome.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    pollfd fds[3];
    int n = 0;
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    int r = ::poll(fds, n, static_cast<int>(left));
    if (r < 0 && errno != EINTR) {
      ::kill(-pid, SIGKILL);  // never leave waitpid below waiting for a live child
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = ::write(in_fd, command.input.data() + written, command.input.size() - written);
        if (w > 0) written += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN) written = command.input.size();
        if (written >= command.input.size()) close_fd(in_fd);
        continue;
      }
      char buf[4096];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      std::string& sink = fds[i].fd == out_fd ? outcome.out : outcome.err;
      if (got > 0) {
        const std::size_t cap = fds[i].fd == out_fd ? command.max_output : kOutputCap;
        if (sink.size() < cap) sink.append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EAGAIN) {
        close_fd(fds[i].fd == out_fd ? out_fd : err_fd);
      }
    }
  }
  close_fd(in_fd);
  close_fd(out_fd);
  close_fd(err_fd);
  // The deadline holds for the process too: one that closed its output
  // (`exec >/dev/null 2>&1; sleep 1000`) is waited for until then, not longer.
  int status = 0;
  for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, max_pause)) {
    const pid_t r = ::waitpid(pid, &status, outcome.timed_out ? 0 : WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (r == 0 && std::chrono::steady_clock::now() >= deadline) {
      outcome.timed_out = true;
      ::kill(-pid, SIGKILL);
      continue;  // now wait without WNOHANG
    }
    if (r == 0) std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
                    pause, deadline - std::chrono::steady_clock::now()));
  }
  if (WIFEXITED(status)) outcome.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) outcome.exit_code = 128 + WTERMSIG(status);
  return outcome;
}

CommandRunner::CommandRunner() : thread_([this] { loop(); }) {}

CommandRunner::~CommandRunner() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  thread_.join();
}

void CommandRunner::submit(Command command, std::function<void(CommandOutcome)> done) {
  {
    std::lock_guard lock(mutex_);
    queue_.emplace_back(std::move(command), std::move(done));
  }
  wake_.notify_one();
}

std::size_t CommandRunner::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size() + (busy_ ? 1 : 0);
}

void CommandRunner::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void CommandRunner::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    auto [command, done] = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    CommandOutcome outcome = run_command(command);
    // What the caller does with the outcome must not end this thread (and
    // with it mnigsd).
    try {
      if (done) done(std::move(outcome));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mnigsd: error: a command's completion threw: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "mnigsd: error: a command's completion threw\n");
    }
    lock.lock();
    busy_ = false;
    if (queue_.empty()) idle_.notify_all();
  }
  busy_ = false;
  idle_.notify_all();
}

}  // namespace mnigs::os
