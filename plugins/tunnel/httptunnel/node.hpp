// The node's side of a tunnel: one connection to one gateway endpoint, kept
// up, through which the gateway reaches this node's HTTP services.
//
// The link: TCP to the gateway, the upgrade request of link.hpp, then an
// HTTP/2 session (MuxSession, Role::server) on which the gateway opens one
// CONNECT stream per public request. A stream's :authority names a service
// of Options::services, or is link::kTokenAuthority for token mode. Its
// bytes are the HTTP/1.1 request (head, then the body framed as the head
// says); the node rewrites the head (token mode: Host set to the backend,
// X-Host removed), takes a kept connection to the backend or opens one, and
// pipes bytes both ways unchanged. A plain request's answer is followed by
// a parser only for where it ends: there the stream ends, and a connection
// that both sides are done with is kept for a later stream (ServicePool;
// a kept connection found closed before any answer gets an idempotent
// bodyless request once more, on a new one). An upgrade, or an answer the
// parser cannot follow, is piped until the backend closes, and that close
// ends the stream. The gateway's end of an upgraded stream is passed on as
// a half-close, that of a plain request is not (its framing already says
// where it ends).
// Answers the node makes itself (404 unknown service, WStunnel's 403 for
// X-Host, 503 service offline) go inside the stream as HTTP/1.1 text.
//
// Keeping it up: a refused upgrade (any status but 101) or a broken link
// (socket error, HTTP/2 error, nothing heard for ping_timeout) is retried
// after a backoff; a 4xx refusal (a wrong secret, a held id) waits the
// longest backoff at once.
//
// Bounds, per stream: the request head at most kHeadLimit bytes, the
// answer's head kAnswerHeadLimit (past it the answer is piped, not kept); bytes
// towards the backend at most the stream's receive window (MuxLimits::
// stream_window) plus the rewritten head, since the window is returned only
// once the backend took them; bytes from the backend kReadChunk in hand
// plus the stream's send buffer (MuxLimits::send_buffer). Streams at most
// MuxLimits::max_concurrent_streams.
//
// Threading: everything on the io_context given (the plugin's data thread);
// not thread-safe. No handler runs after stop().
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mnigs/log.hpp>
#include <optional>
#include <regex>
#include <string>

#include "health.hpp"
#include "link.hpp"
#include "mux.hpp"

namespace mnigs::httptunnel {

// Waits between attempts to connect: `first`, doubling up to `max`, each
// drawn within ±25 % of its value; a link that stayed up `stable` or longer
// starts again from `first`. Pure; not thread-safe.
class Backoff {
 public:
  using Duration = std::chrono::milliseconds;
  struct Options {
    Duration first{1000};
    Duration max{60000};
    Duration stable{30000};
  };
  explicit Backoff(Options options) : options_(options), next_(options.first) {}
  // The wait before the next attempt; `unit` in [0, 1) picks the jitter
  // (0.5: none). Doubles the one after.
  Duration next(double unit);
  // A link was up for `up`: a long one resets the doubling.
  void link_lasted(Duration up);
  // The gateway refused us in a way that retrying soon will not change.
  void to_max() { next_ = options_.max; }

 private:
  Options options_;
  Duration next_;
};

struct NodeOptions {
  std::string gateway_host;  // an IP literal, no brackets
  std::uint16_t gateway_port = 0;
  link::Hello hello;
  // Named services: name → port on 127.0.0.1.
  std::map<std::string, std::uint16_t> services;
  // Token mode: the default backend ("http://localhost:80"; "" for none)
  // and which X-Host values are allowed (none without it).
  std::string server;
  std::optional<std::regex> regexp;
  std::chrono::seconds ping_timeout{30};
  std::chrono::seconds connect_timeout{10};  // the gateway's and a backend's
  Backoff::Options backoff;
  MuxLimits limits;
  // The services' health checks (httptunnel.healthCheck), shared by the
  // node's links; none: every request is handed on.
  std::shared_ptr<const HealthChecks> health;
};

// A copy of a link's state and counters.
struct NodeStatus {
  // "connecting", "up", "refused: <status> <the gateway's sentence>" or
  // "down: <why>".
  std::string state;
  std::chrono::steady_clock::time_point since;  // of the state
  std::string gateway;                          // "host:port"
  std::uint64_t reconnects = 0;                 // attempts after the first
  std::size_t streams_open = 0;
  std::uint64_t streams_served = 0;  // streams the gateway opened
  std::uint64_t bytes_to_services = 0;
  std::uint64_t bytes_from_services = 0;
  std::uint64_t service_connections = 0;  // connections opened to the services
  std::uint64_t service_reuses = 0;       // streams served on a kept connection
  std::string last_error;  // "" until something failed
};

class NodeLink : public std::enable_shared_from_this<NodeLink> {
 public:
  static constexpr std::size_t kHeadLimit = 16 * 1024;  // request and upgrade heads
  static constexpr std::size_t kReadChunk = 16 * 1024;  // one read from a backend
  static constexpr std::uint32_t kAnswerHeadLimit = 64 * 1024;  // a backend's answer head

  NodeLink(boost::asio::io_context& io, Logger& log, NodeOptions options);
  ~NodeLink();
  NodeLink(const NodeLink&) = delete;
  NodeLink& operator=(const NodeLink&) = delete;

  // Connects, and keeps connecting until stop().
  void start();
  // Closes the link and every backend connection, cancels the timers; no
  // handler runs afterwards. Idempotent.
  void stop();
  // A copy of the state and counters; on the io_context's thread, as the rest.
  NodeStatus status() const;

  class Stream;  // one CONNECT stream and its backend (node.cpp)

 private:
  friend class Stream;
  void connect();
  void on_connect(std::uint64_t gen, const boost::system::error_code& ec);
  void read_head(std::uint64_t gen);
  void on_head(std::uint64_t gen);
  void read_refusal(std::uint64_t gen);
  void refused();
  void go_up(std::uint64_t gen);
  void do_read(std::uint64_t gen);
  void on_read(std::uint64_t gen, const boost::system::error_code& ec, std::size_t n);
  // Pulls the session's output and writes it, one write at a time. Never
  // tears the link down on the spot: streams call it mid-work.
  void flush();
  void tick(std::uint64_t gen);
  void fail(const std::string& why);
  void close_link();
  void retry();
  void set_state(std::string state);
  StreamHandler on_stream(std::int32_t id, std::string authority, Headers headers);

  struct Impl;  // sockets and timers (node.cpp)
  std::unique_ptr<Impl> impl_;
  Logger& log_;
  NodeOptions options_;
  Backoff backoff_;
  std::unique_ptr<MuxSession> mux_;
  std::map<std::int32_t, std::shared_ptr<Stream>> streams_;
  NodeStatus status_;
  std::uint64_t gen_ = 0;  // bumped per attempt: completions of an older one are stale
  std::uint64_t attempts_ = 0;
  std::uint64_t frames_seen_ = 0;
  std::chrono::steady_clock::time_point heard_;  // when frames_in last moved
  std::chrono::steady_clock::time_point up_at_;
  unsigned refusal_status_ = 0;
  bool started_ = false, stopped_ = false, up_ = false;
  bool reading_ = false, writing_ = false, in_mux_ = false;
};

}  // namespace mnigs::httptunnel
