// Raw TCP on a socket a test made itself (often inside a namespace, see
// run_in_netns_thread), for tests that play a hostile or third-party peer.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace mnigs::test {

// Sends all of `bytes` on `fd` (made non-blocking per call) before `end`;
// false once the connection fails (the peer closed it) or the time is up.
bool send_all(int fd, std::string_view bytes, std::chrono::steady_clock::time_point end);

// Reads until the peer closes, `max` bytes have come, or `end`.
std::string read_until_closed(int fd, std::chrono::steady_clock::time_point end,
                              std::size_t max = 1 << 20);

// A TCP connection to host:port (IPv4 or IPv6 literal) from the calling
// thread's namespace, within `timeout`: the socket, or -1 with the reason in
// `error` (ECONNREFUSED for a reset, ETIMEDOUT when nothing answered).
int tcp_connect(const std::string& host, int port, std::chrono::milliseconds timeout,
                int* error = nullptr);

// One HTTP/1.1 exchange on a connection of its own, from inside namespace
// `ns`: `request` is sent as it is (head and body), and everything the server
// sends until it closes (at most `max` bytes, within `timeout`) is split into
// status, head and body.
struct HttpExchange {
  int status = 0;       // 0 when no status line came
  std::string head;     // the status line and headers
  std::string body;
  int connect_error = 0;  // errno when the connection failed
  std::string header(const std::string& name) const;  // "" when absent
};
HttpExchange http_exchange(const std::string& ns, const std::string& host, int port,
                           const std::string& request, std::chrono::milliseconds timeout,
                           std::size_t max = 1 << 20);

}  // namespace mnigs::test
