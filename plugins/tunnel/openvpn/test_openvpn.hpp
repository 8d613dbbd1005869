// For the tests: a temporary directory with P-256 self-signed keys made by
// the openssl command, and real openvpn processes (Debian's
// /usr/sbin/openvpn). A server needs a tun device (--mode server refuses
// --dev null, and "--dev null --dev-type tun" makes a tun called "null"),
// so the tests run them in a namespace of their own, with --ifconfig-noexec.
// Each process is ended by its pid when its object goes.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace mnigs::openvpn::testing {

inline constexpr const char* kOpenvpn = "/usr/sbin/openvpn";

inline bool have_openvpn() {
  return access(kOpenvpn, X_OK) == 0 && std::system("command -v openssl >/dev/null") == 0;
}

// A child process, ended (SIGTERM, then SIGKILL after 5 s) and reaped on
// destruction.
class Child {
 public:
  explicit Child(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], nullptr, nullptr, args.data(), environ) != 0) pid_ = -1;
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { stop(); }

  pid_t pid() const { return pid_; }
  // Still running?
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  // Waits up to `limit` for the process to end by itself.
  bool wait_exit(std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    while (running()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }
  void stop() {
    if (!running()) return;
    kill(pid_, SIGTERM);
    if (!wait_exit(std::chrono::seconds(5))) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// A fresh directory under the system's temporary one, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "mnigs-ovpn-XXXXXX").string();
    if (mkdtemp(pattern.data())) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Makes DIR/NAME.key and DIR/NAME.crt: P-256, self-signed, CN=`cn`.
inline bool make_identity(const TempDir& dir, const std::string& name, const std::string& cn) {
  std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                        "-nodes -days 2 -subj /CN=" + cn + " -keyout " + (dir / (name + ".key")) +
                        " -out " + (dir / (name + ".crt")) + " 2>/dev/null";
  return std::system(command.c_str()) == 0;
}

// The certificate's SHA-256 fingerprint as openssl prints it, "AB:CD:...".
inline std::string fingerprint(const TempDir& dir, const std::string& name) {
  std::string command = "openssl x509 -noout -fingerprint -sha256 -in " +
                        (dir / (name + ".crt")) + " | sed 's/.*=//'";
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[256];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// A server on 127.0.0.1:`port`, held until "hold release", pools 10.8.0.0/24 and
// fd00:8::/64, clients authorised through the management socket.
inline std::vector<std::string> server_argv(const TempDir& dir, int port) {
  return {kOpenvpn, "--server", "10.8.0.0", "255.255.255.0", "--server-ipv6", "fd00:8::/64",
          "--topology", "subnet", "--dev", "tun", "--ifconfig-noexec", "--route-noexec",
          "--proto", "udp", "--local", "127.0.0.1", "--lport",
          std::to_string(port), "--cert", dir / "server.crt", "--key", dir / "server.key", "--ca",
          dir / "client.crt", "--dh", "none", "--management", dir / "server.sock", "unix",
          "--management-client-auth", "--management-hold", "--auth-user-pass-optional",
          "--verb", "0", "--keepalive", "2", "10"};
}

// A client of that server, checking its certificate by fingerprint.
inline std::vector<std::string> client_argv(const TempDir& dir, int port,
                                            const std::string& server_fingerprint) {
  return {kOpenvpn, "--client", "--dev", "tun", "--ifconfig-noexec",
          "--route-noexec", "--proto", "udp", "--remote", "127.0.0.1", std::to_string(port),
          "--nobind", "--cert", dir / "client.crt", "--key", dir / "client.key",
          "--peer-fingerprint", server_fingerprint, "--management", dir / "client.sock", "unix",
          "--management-hold", "--verb", "0", "--connect-retry", "1", "1"};
}

}  // namespace mnigs::openvpn::testing
