// What the benchmarks that time datagrams share: an echo server (the
// sockets themselves: harness/udp.hpp). Header only.
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

#include "harness/udp.hpp"

namespace mnigs::test::bench {

// A UDP echo on address:port in namespace `ns`, for as long as it lives.
class UdpEcho {
 public:
  UdpEcho(const std::string& ns, const std::string& address, int port)
      : fd_(udp_socket_in(ns, std::chrono::milliseconds(100))) {
    sockaddr_in a = ipv4_endpoint(address, port);
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
