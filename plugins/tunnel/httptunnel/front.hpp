// The gateway's public front: the HTTP/1.1 server that HTTP clients reach
// (httptunnel.listen). Each request is routed by Host to a named service
// (<service>.<id>.<domain>), or by token (/_token/<token>/..., X-Token) as
// WStunnel does, and goes to the node holding it through a Channel; the
// answer streams back. /_health_check and /_stats answer here; /_tunnel
// (a node connecting) is handed to the owner.
//
// Bounds: a request head at most FrontOptions::header_limit bytes and 100
// fields, complete within head_timeout of its first wait (a slowloris
// client is closed); connections at most max_connections, max_per_address
// from one address (more are closed at once, counted); per connection at
// most one request in flight, its body and its answer passing through
// buffers of kChunk bytes and the channel's window, whatever their size.
//
// Refusals are WStunnel's (texts and codes): 400 for a missing or short
// token, 404 for a token no node holds, 504 "Too many requests in-flight"
// when its queue is full, 504 "Tunnel timeout" when no answer began within
// `timeout`, 506 when a node's answer is no HTTP response; 502 when the
// tunnel failed under a request that could not be sent again.
//
// Per-key metrics (metrics.hpp) count each token and named service a node
// held: requests, bytes, answers >= 500 and latency to the answer's head.
//
// Threading: everything on the io_context it is given (the plugin's data
// thread); counters are atomics, read from anywhere; key_metrics() only on
// that thread.
#pragma once

#include "metrics.hpp"
#include "registry.hpp"
#include "settings.hpp"

#include <mnigs/log.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mnigs::httptunnel {

namespace http = boost::beast::http;

// What the per-address cap (FrontOptions::max_per_address) counts a
// client by: its IPv4 address, or its IPv6 /64 ("2001:db8:1:2::/64": one
// subscriber's prefix, so rotating addresses within it gains nothing).
std::string cap_key(boost::asio::ip::address address);

struct FrontOptions {
  std::string domain;  // named services' domain; "" for none
  std::chrono::seconds timeout{1200};
  std::chrono::seconds head_timeout{15};
  std::uint32_t header_limit = 16 * 1024;
  std::size_t max_connections = 1024;
  // Per cap_key: a quarter of the whole, since many users may share a NAT.
  std::size_t max_per_address = 256;
  std::size_t max_metric_keys = 1024;  // KeyMetrics' capacity, read at construction
};

struct FrontCounters {
  std::atomic<std::uint64_t> connections{0};        // accepted
  std::atomic<std::uint64_t> over_limit{0};         // closed at once: too many
  std::atomic<std::uint64_t> requests{0};           // heads read
  std::atomic<std::uint64_t> bad_requests{0};       // unparseable, or a head too large
  std::atomic<std::uint64_t> slow_heads{0};         // no complete head in time
  std::atomic<std::uint64_t> not_found{0};          // 404: no such token, id or service
  std::atomic<std::uint64_t> queue_full{0};         // 504 Too many requests in-flight
  std::atomic<std::uint64_t> timeouts{0};           // 504 Tunnel timeout
  std::atomic<std::uint64_t> bad_responses{0};      // 506
  std::atomic<std::uint64_t> tunnel_failures{0};    // 502
  std::atomic<std::uint64_t> retried{0};            // sent again after a tunnel failed
  std::atomic<std::uint64_t> accept_errors{0};      // accept failed (out of descriptors)
};

class Front {
 public:
  struct Hooks {
    // The /_stats body; `local`: the caller is on loopback (details).
    std::function<std::string(bool local)> stats;
    // A request for /_tunnel with an Upgrade header: a node connecting.
    // Gets the connection, the request's head and what followed it.
    std::function<void(boost::asio::ip::tcp::socket, http::request_header<>, std::string)>
        tunnel;
  };

  Front(boost::asio::io_context& io, Registry& registry, Logger& log, FrontOptions options,
        Hooks hooks);
  ~Front();
  // Listens on each endpoint; "" when all listen, else the failures.
  std::string listen(const std::vector<Endpoint>& endpoints);
  // Closes the listeners and every connection.
  void stop();
  void set_options(const FrontOptions& options) { *options_ = options; }
  const FrontCounters& counters() const { return *counters_; }
  // Per token and named service; on the data thread only.
  const KeyMetrics& key_metrics() const;
  std::size_t open_connections() const;
  // Local addresses it listens on, as "ADDRESS:PORT" (a port 0 endpoint
  // gets one from the kernel).
  std::vector<std::string> listening() const;

  class Connection;  // one client connection (front.cpp)

 private:
  struct Shared;
  void accept(std::size_t index);

  boost::asio::io_context& io_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::shared_ptr<FrontOptions> options_;
  std::shared_ptr<FrontCounters> counters_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace mnigs::httptunnel
