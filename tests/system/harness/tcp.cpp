#include "harness/tcp.hpp"

#include "harness/netns.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

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

int tcp_connect(const std::string& host, int port, std::chrono::milliseconds timeout,
                int* error) {
  auto fail = [&](int e) {
    if (error) *error = e;
    return -1;
  };
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *v6;
  } else {
    return fail(EINVAL);
  }
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(errno);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) return fd;
  if (errno != EINPROGRESS) {
    const int e = errno;
    ::close(fd);
    return fail(e);
  }
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
    ::close(fd);
    return fail(ETIMEDOUT);
  }
  int e = 0;
  socklen_t el = sizeof e;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
  if (e != 0) {
    ::close(fd);
    return fail(e);
  }
  return fd;
}

std::string HttpExchange::header(const std::string& name) const {
  std::string lower_head = head, lower_name = name + ":";
  for (auto* s : {&lower_head, &lower_name})
    std::transform(s->begin(), s->end(), s->begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto at = lower_head.find("\r\n" + lower_name);
  if (at == std::string::npos) return "";
  std::size_t start = at + 2 + lower_name.size();
  const std::size_t end = head.find("\r\n", start);
  while (start < end && head[start] == ' ') ++start;
  return head.substr(start, end - start);
}

HttpExchange http_exchange(const std::string& ns, const std::string& host, int port,
                           const std::string& request, std::chrono::milliseconds timeout,
                           std::size_t max) {
  HttpExchange x;
  run_in_netns_thread(ns, [&] {
    const auto end = std::chrono::steady_clock::now() + timeout;
    const int fd = tcp_connect(host, port, timeout, &x.connect_error);
    if (fd < 0) return;
    std::string got;
    if (send_all(fd, request, end)) got = read_until_closed(fd, end, max);
    ::close(fd);
    const auto blank = got.find("\r\n\r\n");
    x.head = got.substr(0, blank);
    if (blank != std::string::npos) x.body = got.substr(blank + 4);
    if (got.rfind("HTTP/1.", 0) == 0 && got.size() >= 12)
      x.status = std::atoi(got.substr(9, 3).c_str());
  });
  return x;
}

}  // namespace mnigs::test
