// mnigs-test-vpnws-client: a stand-in for vpn-ws-client with the same
// timing and the same wire behaviour (README.md):
//
//   mnigs-test-vpnws-client [--bridge] [--seconds N] TAP ws://[user:password@]HOST[:PORT]/PATH
//
// It attaches to tap device TAP (created when missing), connects, upgrades,
// and then waits in select() on the socket and the tap with a 17 s timeout:
// frames from the server go to the tap, frames from the tap go to the
// server masked with the connection's one mask, and a ping goes out only
// when select() times out. Server pings and pongs are read and ignored.
// When the connection fails it connects again after 0, 1, 2, ... 30, 1, ...
// seconds, as the real client does.
//
// Prints one line per event: "connected to HOST port PORT",
// "handshake returned code: N", "ping", "disconnected: WHY". Ends by itself
// once --seconds (default 600) have passed, at its next wake-up (17 s at
// most later), or on SIGTERM. Exit codes: 0 when its time
// is up, 1 when the tap fails, 2 on bad arguments.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "client.hpp"

namespace {

using namespace mnigs::test::vpnws;
using Clock = std::chrono::steady_clock;
constexpr const char* program = "mnigs-test-vpnws-client";
// src/client.c: "we send a websocket ping every 17 seconds (if inactive...)".
constexpr int kIdleSeconds = 17;

void say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "%s: %s\nusage: %s [--bridge] [--seconds N] TAP "
               "ws://[user:password@]HOST[:PORT]/PATH\n",
               program, why.c_str(), program);
  std::exit(2);
}

template <std::size_t N>
std::array<std::uint8_t, N> random_bytes() {
  std::array<std::uint8_t, N> out{};
  std::size_t got = 0;
  while (got < N) {
    ssize_t n = ::getrandom(out.data() + got, N - got, 0);
    if (n > 0)
      got += static_cast<std::size_t>(n);
    else if (errno != EINTR)
      break;
  }
  return out;
}

// Opens the tap as the client does: IFF_TAP | IFF_NO_PI, then its MAC.
int open_tap(const std::string& name, std::array<std::uint8_t, 6>* mac) {
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0 || ::ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
    ::close(fd);
    return -1;
  }
  std::memcpy(mac->data(), ifr.ifr_hwaddr.sa_data, 6);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Writes everything, waiting in select() while the socket is full.
bool write_all(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      fd_set w;
      FD_ZERO(&w);
      FD_SET(fd, &w);
      if (::select(fd + 1, nullptr, &w, nullptr, nullptr) < 0 && errno != EINTR) return false;
      continue;
    }
    return false;
  }
  return true;
}

// Connects and upgrades; returns the socket, or -1 after saying why.
int connect_and_upgrade(const Url& url, const std::array<std::uint8_t, 6>& mac, bool bridge) {
  say("connecting to " + url.host + " port " + std::to_string(url.port));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(url.port);
  ::inet_pton(AF_INET, url.host.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    say(std::string("disconnected: connect: ") + std::strerror(errno));
    ::close(fd);
    return -1;
  }
  if (!write_all(fd, upgrade_request(url, random_bytes<10>(), mac, bridge))) {
    say(std::string("disconnected: sending the request: ") + std::strerror(errno));
    ::close(fd);
    return -1;
  }
  // The head is read into a buffer of its own and dropped with whatever
  // came after it, as the client does.
  std::string head;
  int code = 0;
  while ((code = response_status(head)) == 0) {
    char buf[8192];
    if (head.size() >= sizeof buf) break;
    ssize_t n = ::read(fd, buf, sizeof buf - head.size());
    if (n <= 0) break;
    head.append(buf, static_cast<std::size_t>(n));
  }
  if (code != 101) {
    say("handshake returned code: " + std::to_string(code));
    ::close(fd);
    return -1;
  }
  say("connected to " + url.host + " port " + std::to_string(url.port));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// One connection's life; returns why it ended. Exits 1 when the tap fails.
std::string serve(int sock, int tap, Clock::time_point end) {
  const auto mask = random_bytes<4>();
  std::string in;
  for (;;) {
    if (Clock::now() >= end) return "its time is up";
    fd_set r;
    FD_ZERO(&r);
    FD_SET(sock, &r);
    FD_SET(tap, &r);
    timeval tv{kIdleSeconds, 0};
    int ready = ::select(std::max(sock, tap) + 1, &r, nullptr, nullptr, &tv);
    if (ready < 0) {
      if (errno == EINTR) continue;
      say(std::string("select: ") + std::strerror(errno));
      std::exit(1);
    }
    if (ready == 0) {
      say("ping");
      if (!write_all(sock, kIdlePing)) return std::string("write: ") + std::strerror(errno);
      continue;
    }
    if (FD_ISSET(sock, &r)) {
      char buf[8192];
      ssize_t n = ::read(sock, buf, sizeof buf);
      if (n == 0) return "the server closed the connection";
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return std::string("read: ") + std::strerror(errno);
      if (n > 0) in.append(buf, static_cast<std::size_t>(n));
      for (;;) {
        Parsed p = parse_frame(in);
        if (p.kind == Parsed::Kind::need_more) break;
        if (p.kind == Parsed::Kind::close) return "the server sent a close frame";
        if (p.kind == Parsed::Kind::error) return "a frame it cannot read";
        if (p.kind == Parsed::Kind::data && ::write(tap, p.payload.data(), p.payload.size()) < 0) {
          say(std::string("tap write: ") + std::strerror(errno));
          std::exit(1);
        }
        in.erase(0, p.consumed);
      }
    }
    if (FD_ISSET(tap, &r)) {
      std::uint8_t frame[1500];
      ssize_t n = ::read(tap, frame, sizeof frame);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) {
        say(std::string("tap read: ") + std::strerror(errno));
        std::exit(1);
      }
      if (!write_all(sock, binary_frame(frame, static_cast<std::size_t>(n), mask)))
        return std::string("write: ") + std::strerror(errno);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool bridge = false;
  long seconds = 600;
  std::string args[2];
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--bridge") {
      bridge = true;
    } else if (a == "--seconds" && i + 1 < argc) {
      char* end = nullptr;
      seconds = std::strtol(argv[++i], &end, 10);
      if (*end || seconds < 1 || seconds > 86400) usage("--seconds wants 1..86400");
    } else if (positional < 2 && !a.starts_with("--")) {
      args[positional++] = a;
    } else {
      usage("unexpected argument \"" + a + "\"");
    }
  }
  if (positional != 2) usage("needs a tap name and a url");
  std::string why;
  auto url = parse_url(args[1], &why);
  if (!url) usage(why);

  std::array<std::uint8_t, 6> mac{};
  const int tap = open_tap(args[0], &mac);
  if (tap < 0) {
    std::fprintf(stderr, "%s: cannot open tap %s: %s\n", program, args[0].c_str(),
                 std::strerror(errno));
    return 1;
  }
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  int throttle = -1;
  while (Clock::now() < end) {
    if (throttle >= 30) throttle = 0;
    ++throttle;
    if (throttle) ::sleep(static_cast<unsigned>(throttle));
    int sock = connect_and_upgrade(*url, mac, bridge);
    if (sock < 0) continue;
    say("disconnected: " + serve(sock, tap, end));
    ::close(sock);
  }
  return 0;
}
