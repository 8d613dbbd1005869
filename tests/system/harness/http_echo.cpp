#include "harness/http_echo.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "harness/netns.hpp"

namespace mnigs::test {

namespace {

// A request larger than this, or slower than this, is answered 400 / dropped:
// the server must never hang on a client.
constexpr size_t kMaxRequestBytes = 16 * 1024;
constexpr int kRequestTimeoutMs = 3000;
constexpr std::size_t kMaxBulkBytes = 200'000'000;
constexpr int kBulkTimeoutMs = 60000;

std::string errno_text() { return std::strerror(errno); }

std::string peer_text(const sockaddr_storage& peer) {
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&peer);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
  } else if (peer.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&peer);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
      ::inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, sizeof text);
    else
      ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
  }
  return text;
}

// Writes all of `data`, waiting (bounded) for the socket to take it.
void send_all(int fd, const std::string& data) {
  size_t sent = 0;
  for (int round = 0; round < 50 && sent < data.size(); ++round) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 100);
  }
}

// Sends `head` and then `size` bytes of 'x', for as long as the peer reads
// and at most `limit` in all; false when it stopped early or `wake` fired.
bool send_bulk(int fd, int wake, const std::string& head, std::size_t size,
               std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  static const std::string chunk(64 * 1024, 'x');
  std::size_t head_sent = 0, body_sent = 0;
  while (head_sent < head.size() || body_sent < size) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const bool in_head = head_sent < head.size();
    const char* data = in_head ? head.data() + head_sent : chunk.data();
    const std::size_t want =
        in_head ? head.size() - head_sent : std::min(chunk.size(), size - body_sent);
    ssize_t n = ::send(fd, data, want, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      (in_head ? head_sent : body_sent) += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    pollfd fds[2] = {{fd, POLLOUT, 0}, {wake, POLLIN, 0}};
    ::poll(fds, 2, static_cast<int>(std::min<long long>(left.count(), 200)));
    if (fds[1].revents) return false;
  }
  return true;
}

std::string response(int status, const char* reason, const std::string& body,
                     const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
}

}  // namespace

HttpEcho::HttpEcho(const std::string& ns, const std::string& address, int port)
    : address_(address), port_(port) {
  sockaddr_storage where{};
  socklen_t where_len = 0;
  if (address.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&where);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, address.c_str(), &a->sin6_addr) != 1)
      throw std::invalid_argument("HttpEcho: \"" + address + "\" is not an IPv6 address");
    where_len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&where);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, address.c_str(), &a->sin_addr) != 1)
      throw std::invalid_argument("HttpEcho: \"" + address + "\" is not an IPv4 address");
    where_len = sizeof(sockaddr_in);
  }
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
    throw std::runtime_error("HttpEcho: pipe2: " + errno_text());

  const std::string what = "HttpEcho on " + address + ":" + std::to_string(port) + " in " + ns;
  try {
    // A socket belongs to the namespace of the thread that created it, for
    // good: serving it from another thread keeps it there.
    run_in_netns_thread(ns, [&] {
      int fd = ::socket(where.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) throw std::runtime_error(what + ": socket: " + errno_text());
      int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (where.ss_family == AF_INET6)
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&where), where_len) != 0 ||
          ::listen(fd, 64) != 0) {
        std::string why = errno_text();
        ::close(fd);
        throw std::runtime_error(what + ": " + why);
      }
      listen_fd_ = fd;
    });
  } catch (...) {
    ::close(wake_[0]);
    ::close(wake_[1]);
    throw;
  }
  thread_ = std::thread([this] { serve(); });
}

HttpEcho::~HttpEcho() {
  char byte = 1;
  (void)!::write(wake_[1], &byte, 1);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

std::string HttpEcho::last_client() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_client_;
}

void HttpEcho::serve() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof peer;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len,
                       SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    answer(fd, peer_text(peer));
    ::close(fd);
  }
}

void HttpEcho::answer(int fd, const std::string& peer) {
  // Read the request head, bounded in size and time; the body, if any, is
  // ignored (every answer closes the connection).
  std::string request;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestTimeoutMs);
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;  // shutting down
    if (!fds[0].revents) continue;
    char buf[4096];
    ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got == 0) return;
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      return;
    }
    request.append(buf, static_cast<size_t>(got));
  }

  const auto line_end = request.find("\r\n");
  const std::string line = request.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
  if (line_end == std::string::npos || sp1 == std::string::npos || sp2 == std::string::npos ||
      line.compare(sp2 + 1, 5, "HTTP/") != 0) {
    send_all(fd, response(400, "Bad Request", "bad request\n"));
  } else if (line.substr(0, sp1) != "GET") {
    send_all(fd, response(405, "Method Not Allowed", "only GET\n", "Allow: GET\r\n"));
  } else if (const std::string path = line.substr(sp1 + 1, sp2 - sp1 - 1);
             path.rfind("/bytes/", 0) == 0) {
    // GET /bytes/N: N bytes of 'x' (at most kMaxBulkBytes), for tests that
    // move a known amount through a tunnel.
    const std::string digits = path.substr(7);
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos ||
        std::stoull(digits) > kMaxBulkBytes) {
      send_all(fd, response(400, "Bad Request", "GET /bytes/N, N at most 200000000\n"));
    } else {
      const std::size_t n = std::stoull(digits);
      send_bulk(fd, wake_[0],
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: " + std::to_string(n) + "\r\nConnection: close\r\n\r\n",
                n, std::chrono::milliseconds(kBulkTimeoutMs));
    }
  } else {
    send_all(fd, response(200, "OK", "client=" + peer + "\n"));
  }
  ::shutdown(fd, SHUT_WR);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last_client_ = peer;
  }
  ++served_;
}

FetchResult fetch(const std::string& ns, const std::string& host, int port, const std::string& path,
                  std::chrono::milliseconds timeout) {
  FetchResult result;
  try {
    run_in_netns_thread(ns, [&] {
      // Created on this thread, so its socket is in `ns`.
      httplib::Client client(host, port);
      const auto sec = static_cast<time_t>(timeout.count() / 1000);
      const auto usec = static_cast<time_t>((timeout.count() % 1000) * 1000);
      client.set_connection_timeout(sec, usec);
      client.set_read_timeout(sec, usec);
      client.set_write_timeout(sec, usec);
      client.set_keep_alive(false);
      auto res = client.Get(path);
      if (!res) {
        result.error = "GET http://" + host + ":" + std::to_string(port) + path + ": " +
                       httplib::to_string(res.error());
        return;
      }
      result.ok = true;
      result.status = res->status;
      result.body = res->body;
    });
  } catch (const std::exception& e) {
    // Only a namespace that cannot be joined gets here.
    result.error = e.what();
  }
  return result;
}

}  // namespace mnigs::test
