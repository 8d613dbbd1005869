// The cleanup guardian. A test that is killed (SIGKILL from ctest's timeout,
// Ctrl-C, a crash) cannot clean up after itself, so the first time a test
// process is about to create something, it starts a small separate process,
// the reaper, in its own session. The test tells it what it creates over a
// pipe whose write end only the test process holds:
//
//   ns NAME          a network namespace (named "mn<pid>-...")
//   pid N            a process the test started
//   dir PATH         a scratch directory (under /tmp/mnigs-...)
//   forget-ns NAME, forget-pid N, forget-dir PATH   cleaned up by the test itself
//
// When the pipe reaches EOF, because the test process is gone however it
// died, the reaper terminates the remembered processes (SIGTERM, then
// SIGKILL), ends every process inside the remembered namespaces, deletes the
// namespaces and directories, and exits. It ignores SIGINT, SIGTERM, SIGHUP.
#pragma once

#include <sys/types.h>

#include <mutex>
#include <string>

namespace mnigs::test {

class Reaper {
 public:
  // The reaper of the calling process (a forked child gets its own). It is
  // started on first use.
  static Reaper& instance();

  // Registers a namespace before it is created, so that no crash window
  // leaves one behind. Throws if the reaper cannot be started or is gone.
  void watch_namespace(const std::string& ns);
  // Registers a process the test started.
  void watch_pid(pid_t pid);
  // Registers a scratch directory; only paths under /tmp/mnigs- are accepted.
  void watch_dir(const std::string& path);

  // Tell the reaper the test removed these itself. Never throw.
  void forget_namespace(const std::string& ns) noexcept;
  void forget_pid(pid_t pid) noexcept;
  void forget_dir(const std::string& path) noexcept;

  // PID of the reaper process, or 0 if it has not been started.
  pid_t reaper_pid() const;

  Reaper(const Reaper&) = delete;
  Reaper& operator=(const Reaper&) = delete;

 private:
  Reaper() = default;
  void ensure_started();  // mutex_ held
  void send(const std::string& line, bool must_arrive);

  mutable std::mutex mutex_;
  int write_fd_ = -1;
  pid_t owner_ = 0;  // the process write_fd_ belongs to
  pid_t reaper_pid_ = 0;
};

}  // namespace mnigs::test
