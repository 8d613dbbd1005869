#include "harness/tcp.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace mnigs::test {

bool send_all(int fd, std::string_view bytes, std::chrono::steady_clock::time_point end) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
    if (std::chrono::steady_clock::now() >= end) return false;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 50);
  }
  return true;
}

std::string read_until_closed(int fd, std::chrono::steady_clock::time_point end,
                              std::size_t max) {
  std::string got;
  char buf[4096];
  while (got.size() < max && std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      break;
    }
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

}  // namespace mnigs::test
