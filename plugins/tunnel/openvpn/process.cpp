#include "process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/steady_timer.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace mnigs::openvpn {

namespace {

std::string errno_text() { return std::strerror(errno); }

bool alive(int pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

std::string read_small(const std::string& path, std::size_t max) {
  std::ifstream in(path, std::ios::binary);
  std::string out(max, '\0');
  in.read(out.data(), static_cast<std::streamsize>(max));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

}  // namespace

std::string make_private_dir(const std::string& dir) {
  for (std::size_t at = 1; at != std::string::npos;) {
    at = dir.find('/', at + 1);
    const std::string part = dir.substr(0, at);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return "cannot make " + part + ": " + errno_text();
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return "cannot use " + dir + ": " + errno_text();
  if (!S_ISDIR(st.st_mode)) return dir + " is not a directory";
  // Keys and management sockets live here: nobody else may look in.
  if (st.st_uid != ::geteuid()) return dir + " belongs to another user";
  if ((st.st_mode & 077) != 0 && ::chmod(dir.c_str(), 0700) != 0)
    return "cannot make " + dir + " private: " + errno_text();
  return "";
}

std::string write_private_file(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".new";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                        0600);
  if (fd < 0) return "cannot write " + temporary + ": " + errno_text();
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = errno_text();
      ::close(fd);
      ::unlink(temporary.c_str());
      return "cannot write " + temporary + ": " + why;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(temporary.c_str());
    return "cannot write " + path + ": " + why;
  }
  return "";
}

std::optional<int> our_openvpn(const std::string& pid_file, const std::string& dir) {
  const std::string text = read_small(pid_file, 32);
  char* end = nullptr;
  const long pid = std::strtol(text.c_str(), &end, 10);
  if (pid <= 1 || pid > 4194304 || end == text.c_str()) return std::nullopt;
  // NUL-separated arguments: argv[0] ends in openvpn, and "--config" is
  // followed by a file in `dir`.
  const std::string cmdline = read_small("/proc/" + std::to_string(pid) + "/cmdline", 4096);
  std::vector<std::string> args;
  std::istringstream in(cmdline);
  for (std::string arg; std::getline(in, arg, '\0');) args.push_back(arg);
  if (args.empty()) return std::nullopt;
  const std::string& program = args[0];
  if (program.size() < 7 || program.compare(program.size() - 7, 7, "openvpn") != 0)
    return std::nullopt;
  bool ours = false;
  for (std::size_t i = 1; i + 1 < args.size(); ++i)
    ours = ours || (args[i] == "--config" && args[i + 1].rfind(dir + "/", 0) == 0);
  // And in our network namespace: an mnigsd in another one (a test's or a
  // demo's node) with the same runDir owns its own processes.
  struct stat mine {}, theirs {};
  if (!ours || ::stat("/proc/self/ns/net", &mine) != 0 ||
      ::stat(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), &theirs) != 0 ||
      mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev)
    return std::nullopt;
  return static_cast<int>(pid);
}

std::vector<std::string> files_ending(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(dir + "/" + name);
  }
  ::closedir(d);
  return out;
}

namespace {

struct Ending {
  Ending(boost::asio::any_io_executor executor, int pid,
         std::chrono::steady_clock::time_point deadline, std::function<void()> done)
      : timer(executor), pid(pid), deadline(deadline), done(std::move(done)) {}
  boost::asio::steady_timer timer;
  int pid;
  std::string cmdline;  // what it ran when it was sent SIGTERM
  std::chrono::steady_clock::time_point deadline;
  std::function<void()> done;
};

// Looks every 50 ms until the process is gone or the deadline passes.
void watch(const std::shared_ptr<Ending>& e) {
  if (!alive(e->pid)) return e->done();
  if (std::chrono::steady_clock::now() >= e->deadline) {
    // Only the same program still: the pid may have been reused meanwhile.
    if (read_small("/proc/" + std::to_string(e->pid) + "/cmdline", 4096) == e->cmdline)
      ::kill(e->pid, SIGKILL);
    return e->done();
  }
  e->timer.expires_after(std::chrono::milliseconds(50));
  e->timer.async_wait([e](const boost::system::error_code&) { watch(e); });
}

}  // namespace

void end_process(boost::asio::any_io_executor executor, int pid, std::chrono::milliseconds grace,
                 std::function<void()> done) {
  const std::string cmdline = read_small("/proc/" + std::to_string(pid) + "/cmdline", 4096);
  if (::kill(pid, SIGTERM) != 0 && errno == ESRCH) return done();
  auto e = std::make_shared<Ending>(executor, pid, std::chrono::steady_clock::now() + grace,
                                    std::move(done));
  e->cmdline = cmdline;
  watch(e);
}

std::string tail(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > 4096 ? size - 4096 : 0;
  in.seekg(from);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  std::size_t at = text.size();
  for (int n = 0; n < lines && at != std::string::npos && at > 0; ++n)
    at = text.rfind('\n', at - 1);
  std::string out = at == std::string::npos ? text : text.substr(at + 1);
  for (char& c : out)
    if (c == '\n') c = ' ';
    else if (static_cast<unsigned char>(c) < 0x20) c = '?';
  return out;
}

}  // namespace mnigs::openvpn
