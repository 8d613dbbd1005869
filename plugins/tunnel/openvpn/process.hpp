// The openvpn processes mnigsd started, found again by their pid files in
// openvpn.runDir: after a kill -9 of mnigsd they run on, and reset() ends
// them before sessions are resumed. A pid is ended only while
// /proc/PID/cmdline is openvpn's with a config file in runDir, so a stale
// pid file never names someone else's process.
//
// Threading: the plugin's strand; blocking calls only on small /proc files.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::openvpn {

// Makes `dir` (and its parents) owned by us and mode 0700; "" or why not.
std::string make_private_dir(const std::string& dir);
// Writes `text` to `path` with mode 0600, replacing it; "" or why not.
std::string write_private_file(const std::string& path, const std::string& text);

// The pid in `pid_file` when it names a running openvpn whose config file
// is in `dir`; nullopt otherwise.
std::optional<int> our_openvpn(const std::string& pid_file, const std::string& dir);
// The files in `dir` whose names end in `suffix` (".pid"), as paths.
std::vector<std::string> files_ending(const std::string& dir, const std::string& suffix);
inline std::vector<std::string> pid_files(const std::string& dir) {
  return files_ending(dir, ".pid");
}

// Sends SIGTERM to `pid`, then SIGKILL if it still runs after `grace`;
// `done` on `executor` once it is gone (or after SIGKILL).
void end_process(boost::asio::any_io_executor executor, int pid, std::chrono::milliseconds grace,
                 std::function<void()> done);

// The last `lines` lines of a file, for error messages (at most 4 KiB read).
std::string tail(const std::string& path, int lines);

}  // namespace mnigs::openvpn
