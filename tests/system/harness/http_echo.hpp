// A stand-in for "a host on the Internet": a tiny HTTP server inside a test
// namespace that tells each client which source address it saw, and a GET
// client that runs inside any test namespace.
//
//   HttpEcho web(topology.ns("inet"), topology.address("inet", "gw"), 80);
//   FetchResult r = fetch(topology.ns("sub"), topology.address("inet", "gw"), 80);
//   // r.ok, r.status == 200, r.body == "client=10.77.1.2\n" (what the server saw)
//
// Both only ever touch the namespaces they are given; nothing is opened in
// the test's own namespace.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>

namespace mnigs::test {

using namespace std::chrono_literals;

// Answers every GET with "200 OK" and the body "client=<peer IP>\n", except
// GET /bytes/N: N bytes of 'x' (N at most 200 MB, sent for at most 60 s);
// any other method with 405; one request per connection. The listening socket is
// created on a thread that joined `ns`, so it lives there, and is served by
// a thread of its own until the destructor stops and joins it.
class HttpEcho {
 public:
  // Listens on address:port (IPv4 or IPv6 literal) inside namespace `ns`.
  // Throws std::runtime_error, naming the address, if it cannot.
  HttpEcho(const std::string& ns, const std::string& address, int port);
  ~HttpEcho();
  HttpEcho(const HttpEcho&) = delete;
  HttpEcho& operator=(const HttpEcho&) = delete;

  // Requests answered so far (any method, any status).
  int served() const { return served_.load(); }
  // The peer address of the last request answered, "" before the first.
  std::string last_client() const;

  const std::string& address() const { return address_; }
  int port() const { return port_; }

 private:
  void serve();
  void answer(int fd, const std::string& peer);

  std::string address_;
  int port_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // a byte on wake_[1] stops serve()
  std::atomic<int> served_{0};
  mutable std::mutex mutex_;  // guards last_client_
  std::string last_client_;
  std::thread thread_;
};

// What a GET came back with.
struct FetchResult {
  bool ok = false;    // a complete HTTP response arrived (whatever its status)
  int status = 0;     // its status code, 0 when none arrived
  std::string body;   // its body
  std::string error;  // why no response arrived ("" when ok)
};

// GET http://host:port/path from inside namespace `ns` ("" = the test's own
// namespace). `timeout` bounds connecting and reading each. Never throws for
// network failures (unreachable, refused, timed out): they come back as
// ok == false with the reason in `error`.
FetchResult fetch(const std::string& ns, const std::string& host, int port,
                  const std::string& path = "/", std::chrono::milliseconds timeout = 5s);

}  // namespace mnigs::test
