// UDP sockets a test or benchmark makes itself inside a namespace, and the
// IPv4 socket address it sends to. Header only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "harness/netns.hpp"

namespace mnigs::test {

// A UDP socket made inside namespace `ns` ("" for the caller's; a socket
// stays in the namespace it was made in, whichever thread uses it), with
// `receive_timeout` on its reads (0: none).
inline int udp_socket_in(const std::string& ns,
                         std::chrono::milliseconds receive_timeout = std::chrono::milliseconds(0)) {
  int fd = -1;
  run_in_netns_thread(ns, [&] { fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); });
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  if (receive_timeout.count() > 0) {
    timeval tv{static_cast<time_t>(receive_timeout.count() / 1000),
               static_cast<suseconds_t>(receive_timeout.count() % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  return fd;
}

inline sockaddr_in ipv4_endpoint(const std::string& address, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  return a;
}

}  // namespace mnigs::test
