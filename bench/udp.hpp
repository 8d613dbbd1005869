// What the benchmarks that time datagrams share: a UDP socket made inside a
// namespace, an IPv4 socket address, and an echo server. Header only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "harness/netns.hpp"

namespace mnigs::test::bench {

// A UDP socket made inside namespace `ns` (a socket stays in the namespace
// it was made in, whichever thread uses it), with `receive_timeout` on its
// reads.
inline int udp_socket_in(const std::string& ns, std::chrono::milliseconds receive_timeout) {
  int fd = -1;
  run_in_netns_thread(ns, [&] { fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); });
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  timeval tv{static_cast<time_t>(receive_timeout.count() / 1000),
             static_cast<suseconds_t>(receive_timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

inline sockaddr_in ipv4(const std::string& address, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  return a;
}

// A UDP echo on address:port in namespace `ns`, for as long as it lives.
class UdpEcho {
 public:
  UdpEcho(const std::string& ns, const std::string& address, int port)
      : fd_(udp_socket_in(ns, std::chrono::milliseconds(100))) {
    sockaddr_in a = ipv4(address, port);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      throw std::runtime_error("bind " + address + ": " + std::strerror(errno));
    }
    thread_ = std::thread([this] {
      std::array<char, 64> buf;
      while (!stop_) {
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n =
            ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n > 0)
          ::sendto(fd_, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from),
                   len);
      }
    });
  }
  ~UdpEcho() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  UdpEcho(const UdpEcho&) = delete;
  UdpEcho& operator=(const UdpEcho&) = delete;

 private:
  int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace mnigs::test::bench
