// Idle connections to a node's services, kept for the next request.
//
// Without it the node opened a TCP connection per request and the service
// closed it after its answer: a connect, an accept and a close for every
// request, and a TIME_WAIT socket left behind each time (on a remote
// token-mode backend, the ephemeral ports run out at a few hundred
// requests a second).
//
// A connection is given back only after an answer that ended where its
// framing said, asked nothing to close, and left nothing unread behind it
// (NodeLink::Stream decides). take() gives the most recently used one
// (the others age out) after a peek that finds the service silent on it:
// one that closed it, reset it or sent anything meanwhile is dropped.
// Idle connections are dropped after `idle`, below the usual servers' own
// keep-alive timeouts (Node.js 5 s, Apache 5 s, nginx 75 s), so that the
// node is rarely the one to find a connection closed under a request;
// one the service closes meanwhile waits in CLOSE_WAIT until then. (A
// watch on each idle connection would close those at once, for an
// epoll_ctl on every request, a measurable share of its cost.)
//
// Threading: one io_context thread, as the links.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace mnigs::httptunnel {

class ServicePool {
 public:
  struct Options {
    std::size_t per_service = 64;  // idle connections kept to one host:port
    std::size_t total = 128;       // idle connections kept in all
    std::chrono::milliseconds idle{4000};
  };
  ServicePool(boost::asio::io_context& io, Options options);
  ~ServicePool();
  ServicePool(const ServicePool&) = delete;
  ServicePool& operator=(const ServicePool&) = delete;

  // An idle connection to `service` ("host:port"), if one is kept.
  std::optional<boost::asio::ip::tcp::socket> take(const std::string& service);
  // Keeps `socket` for the next request to `service`, or closes it when
  // the pool is full.
  void give(const std::string& service, boost::asio::ip::tcp::socket socket);
  // Closes every idle connection; no handler of the pool runs afterwards.
  void clear();
  std::size_t idle() const;

 private:
  struct Idle {
    std::string service;
    std::chrono::steady_clock::time_point since;
    boost::asio::ip::tcp::socket socket;
  };
  using List = std::list<Idle>;  // oldest first
  struct State {
    List idle;
    std::map<std::string, std::size_t> per_service;
  };
  void drop(List::iterator it);
  void arm_sweep();
  void sweep();

  Options options_;
  boost::asio::steady_timer sweep_;
  bool sweeping_ = false;
  // The sweep's handler finds it gone once the pool is.
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace mnigs::httptunnel
