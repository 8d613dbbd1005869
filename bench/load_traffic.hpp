// The load benchmark's traffic (bench/load_bench.cpp): its options, the
// tally of renewals, one HTTP call, the subscribers that hold and renew
// sessions, and the hostile neighbour's flood. Header only, for that one
// benchmark.
#pragma once

#include <json/json.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// After <utility>: Boost 1.74's asio/awaitable.hpp uses std::exchange without it.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "harness/netns.hpp"
#include "harness/reaper.hpp"
#include "harness/rpc_client.hpp"
#include "harness/topology.hpp"
#include "mesh.hpp"

namespace mnigs::test::load {


using namespace bench;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

inline const std::string kSuite = "static-forwarding-free";
inline constexpr int kRpcPort = 65533;
// What mnigsd's subscriber allows each call (core/subscriber/connection.cpp).
inline constexpr auto kCallTimeout = 5s;
// How long the gateway may take to stop at the end before it is killed.
inline constexpr int kStopSeconds = 120;
// JSON-RPC error codes that end a session at the subscriber (rpc_api.hpp).
inline constexpr int kNotFound = -32004;
inline constexpr int kUnauthorized = -32001;

struct Options {
  int sessions = 1000;
  int namespaces = 4;
  int seconds = 30;           // each of the quiet and flood phases
  int timeout = 15;           // gateway.subscriberTimeout; renewals every third of it
  int flood_connections = 64; // hostile connections sending requests back to back
  int flood_stalled = 8;      // hostile connections that send half a request and stall
  int flood_sources = 1;      // hostile source addresses
  std::string flood_method = "nodeInfo";  // what the flood's well-formed requests call
  int ramp_parallel = 32;     // requestConnection calls in flight at once during the ramp
  int cli_checks = 3;         // mnigs-cli --status runs per phase
  bool verbose = false;
};

// ------------------------------------------------------------ measurements

enum Phase { ramp = 0, quiet = 1, flood = 2, after = 3 };
inline const char* phase_name(int p) {
  static const char* names[] = {"ramp", "quiet", "flood", "after"};
  return names[p];
}

// How one call ended.
enum class Outcome {
  ok,         // a JSON-RPC result
  refused,    // not_found or unauthorized: the session is lost
  rpc_error,  // any other JSON-RPC error (busy, starting, ...): retried
  http_error, // an HTTP status other than 200 (503: too many connections)
  transport,  // connect, write or read failed or timed out
};

struct Tally {
  std::vector<double> latencies_ms;  // successful renewals
  int renewed = 0, refused = 0, rpc_errors = 0, http_errors = 0, transport = 0;
  std::string first_error;
  void add(Outcome o, double ms, const std::string& error) {
    switch (o) {
      case Outcome::ok:
        ++renewed;
        latencies_ms.push_back(ms);
        return;
      case Outcome::refused: ++refused; break;
      case Outcome::rpc_error: ++rpc_errors; break;
      case Outcome::http_error: ++http_errors; break;
      case Outcome::transport: ++transport; break;
    }
    if (first_error.empty()) first_error = error;
  }
  int failures() const { return refused + rpc_errors + http_errors + transport; }
  void merge(const Tally& t) {
    latencies_ms.insert(latencies_ms.end(), t.latencies_ms.begin(), t.latencies_ms.end());
    renewed += t.renewed;
    refused += t.refused;
    rpc_errors += t.rpc_errors;
    http_errors += t.http_errors;
    transport += t.transport;
    if (first_error.empty()) first_error = t.first_error;
  }
};

// ------------------------------------------------------------ one HTTP call

// One JSON-RPC call on a new connection from `source` (bound before
// connecting), bounded by kCallTimeout as a whole. `done(outcome, result or
// error text, JSON-RPC error code)`.
class Call : public std::enable_shared_from_this<Call> {
 public:
  using Done = std::function<void(Outcome, const Json::Value&, const std::string&)>;

  Call(net::io_context& io, net::ip::address source, tcp::endpoint to, const std::string& method,
       const Json::Value& params, Done done)
      : stream_(io), source_(source), to_(to), done_(std::move(done)) {
    Json::Value body(Json::objectValue);
    body["jsonrpc"] = "2.0";
    body["id"] = 1;
    body["method"] = method;
    body["params"] = params;
    Json::StreamWriterBuilder w;
    w["indentation"] = "";
    req_ = {http::verb::post, "/jsonrpc", 11};
    req_.set(http::field::host, to.address().to_string());
    req_.set(http::field::content_type, "application/json");
    req_.keep_alive(false);
    req_.body() = Json::writeString(w, body);
    req_.prepare_payload();
  }

  void start() {
    beast::error_code ec;
    auto& s = stream_.socket();
    s.open(tcp::v4(), ec);
    if (!ec) s.bind(tcp::endpoint(source_, 0), ec);
    if (ec)
      return finish(Outcome::transport, {}, "bind " + source_.to_string() + ": " + ec.message());
    stream_.expires_after(kCallTimeout);
    stream_.async_connect(to_, beast::bind_front_handler(&Call::on_connect, shared_from_this()));
  }

 private:
  void on_connect(beast::error_code ec) {
    if (ec) return fail(ec, "connect");
    http::async_write(stream_, req_,
                      beast::bind_front_handler(&Call::on_write, shared_from_this()));
  }
  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "write");
    http::async_read(stream_, buffer_, res_,
                     beast::bind_front_handler(&Call::on_read, shared_from_this()));
  }
  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "read");
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    if (res_.result() != http::status::ok)
      return finish(Outcome::http_error, {},
                    "HTTP " + std::to_string(res_.result_int()) + ": " +
                        res_.body().substr(0, 200));
    Json::Value root;
    Json::CharReaderBuilder b;
    std::string errs;
    std::istringstream in(res_.body());
    if (!Json::parseFromStream(b, in, &root, &errs) || !root.isObject())
      return finish(Outcome::transport, {}, "unparsable answer: " + res_.body().substr(0, 200));
    if (root.isMember("error")) {
      const int code = root["error"]["code"].asInt();
      const std::string text = "error " + std::to_string(code) + ": " +
                               root["error"]["message"].asString();
      return finish(code == kNotFound || code == kUnauthorized ? Outcome::refused
                                                               : Outcome::rpc_error,
                    {}, text);
    }
    finish(Outcome::ok, root["result"], "");
  }
  void fail(beast::error_code ec, const char* what) {
    finish(Outcome::transport, {}, std::string(what) + ": " + ec.message());
  }
  void finish(Outcome o, const Json::Value& result, const std::string& error) {
    if (auto d = std::exchange(done_, nullptr)) d(o, result, error);
  }

  beast::tcp_stream stream_;
  net::ip::address source_;
  tcp::endpoint to_;
  Done done_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  beast::flat_buffer buffer_;
};

// ------------------------------------------------------------ subscribers

// The sessions of one subscriber namespace, driven by one io_context on a
// thread inside that namespace. Results are kept under mutex_ and read by
// the main thread.
class Subscribers {
 public:
  Subscribers(std::string ns, std::vector<std::string> sources, tcp::endpoint gateway,
              const Options& o, const std::atomic<int>& phase, unsigned seed)
      : ns_(std::move(ns)), gateway_(gateway), options_(o), phase_(phase), rng_(seed) {
    for (auto& a : sources) {
      auto s = std::make_shared<Session>(io_);
      s->source = net::ip::make_address(a);
      sessions_.push_back(s);
    }
  }
  ~Subscribers() { stop(); }

  // Starts the thread; it requests every session, `parallel` at a time.
  void start(int parallel) {
    thread_ = std::thread([this, parallel] {
      try {
        run_in_netns_thread(ns_, [this, parallel] {
          for (int i = 0; i < parallel; ++i) net::post(io_, [this] { request_next(); });
          io_.run();
        });
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        thread_error_ = e.what();
      }
    });
  }

  void stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  struct Snapshot {
    int established = 0, request_failed = 0, lost = 0, retries = 0;
    std::vector<std::string> ids;  // sessions the subscribers believe they hold
    std::vector<std::string> lost_lines;
    std::string request_error, retry_error, thread_error;
    Tally tally[4];
  };
  Snapshot snapshot() const {
    std::lock_guard lock(mutex_);
    Snapshot out;
    out.established = established_;
    out.request_failed = request_failed_;
    out.retries = retries_;
    out.request_error = request_error_;
    out.retry_error = retry_error_;
    out.thread_error = thread_error_;
    for (const auto& s : sessions_) {
      if (s->held) out.ids.push_back(s->id);
      if (s->lost) {
        ++out.lost;
        out.lost_lines.push_back(s->id + " from " + s->source.to_string() + ": " + s->why_lost);
      }
    }
    for (int i = 0; i < 4; ++i) out.tally[i] = tally_[i];
    return out;
  }

 private:
  struct Session {
    explicit Session(net::io_context& io) : timer(io) {}
    net::ip::address source;
    std::string id, secret;
    bool held = false, lost = false;  // both under mutex_ once set
    std::string why_lost;
    Clock::time_point expires;  // at the subscriber: last renewal + timeout
    int attempts = 0;
    net::steady_timer timer;
  };
  using SessionPtr = std::shared_ptr<Session>;

  // Ramp-up: one requestConnection after another from each of `parallel`
  // strands of work; a failure is retried after 300 ms, as mnigsd's
  // subscriber retries a busy gateway, at most 10 times.
  void request_next() {
    if (next_ >= sessions_.size()) return;
    request(sessions_[next_++]);
  }
  void request(SessionPtr s) {
    Json::Value p(Json::objectValue);
    p["suite"] = kSuite;
    p["name"] = "load-" + s->source.to_string();
    p["port"] = kRpcPort;
    ++s->attempts;
    std::make_shared<Call>(io_, s->source, gateway_, "requestConnection", p,
                           [this, s](Outcome o, const Json::Value& r, const std::string& error) {
                             on_request(s, o, r, error);
                           })
        ->start();
  }
  void on_request(SessionPtr s, Outcome o, const Json::Value& r, const std::string& error) {
    if (o == Outcome::ok && r["sessionId"].isString() && r["secret"].isString()) {
      std::lock_guard lock(mutex_);
      s->id = r["sessionId"].asString();
      s->secret = r["secret"].asString();
      s->held = true;
      ++established_;
      const auto timeout = std::chrono::seconds(r["timeout"].asInt64());
      s->expires = Clock::now() + timeout;
      schedule_renewal(s, renew_interval());
    } else if (s->attempts < 10) {
      {
        std::lock_guard lock(mutex_);
        ++retries_;
        if (retry_error_.empty()) retry_error_ = s->source.to_string() + ": " + error;
      }
      s->timer.expires_after(300ms);
      s->timer.async_wait([this, s](beast::error_code ec) {
        if (!ec) request(s);
      });
      return;
    } else {
      std::lock_guard lock(mutex_);
      ++request_failed_;
      if (request_error_.empty()) request_error_ = s->source.to_string() + ": " + error;
    }
    request_next();
  }

  // mnigsd's subscriber renews every timeout/3; each delay here is that
  // times 0.9..1.1 so that sessions established together drift apart.
  std::chrono::milliseconds renew_interval() {
    const double base = options_.timeout * 1000.0 / 3;
    return std::chrono::milliseconds(
        static_cast<long>(base * std::uniform_real_distribution<>(0.9, 1.1)(rng_)));
  }

  void schedule_renewal(SessionPtr s, std::chrono::milliseconds in) {
    s->timer.expires_after(in);
    s->timer.async_wait([this, s](beast::error_code ec) {
      if (!ec) renew(s);
    });
  }

  void renew(SessionPtr s) {
    Json::Value p(Json::objectValue);
    p["sessionId"] = s->id;
    p["secret"] = s->secret;
    const int phase = phase_.load();
    const auto t0 = Clock::now();
    std::make_shared<Call>(
        io_, s->source, gateway_, "renewConnection", p,
        [this, s, phase, t0](Outcome o, const Json::Value& r, const std::string& error) {
          const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          std::lock_guard lock(mutex_);
          tally_[phase].add(o, ms, error);
          const auto now = Clock::now();
          if (o == Outcome::ok) {
            s->expires = now + std::chrono::seconds(r["timeout"].asInt64());
            return schedule_renewal(s, renew_interval());
          }
          if (o == Outcome::refused) return lose(s, "renewal refused: " + error);
          if (now >= s->expires) return lose(s, "no renewal until it expired: " + error);
          // As mnigsd's subscriber: try again soon, not past the expiry.
          const auto left = std::chrono::duration_cast<std::chrono::seconds>(s->expires - now);
          schedule_renewal(s, std::chrono::seconds(std::clamp<long>(left.count() / 3, 1, 5)));
        })
        ->start();
  }

  void lose(SessionPtr s, const std::string& why) {  // mutex_ held
    s->held = false;
    s->lost = true;
    s->why_lost = why;
  }

  std::string ns_;
  tcp::endpoint gateway_;
  const Options& options_;
  const std::atomic<int>& phase_;
  std::mt19937 rng_;
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{io_.get_executor()};
  std::vector<SessionPtr> sessions_;
  size_t next_ = 0;  // the next session to request (io thread only)
  std::thread thread_;

  mutable std::mutex mutex_;
  int established_ = 0, request_failed_ = 0, retries_ = 0;
  std::string request_error_, retry_error_, thread_error_;
  Tally tally_[4];
};

// ------------------------------------------------------------ the flood

// The hostile neighbour: `connections` loops that connect and send requests
// back to back on each connection (nodeInfo, malformed JSON, and every
// tenth an oversized body), reconnecting whenever the gateway closes or
// refuses; `stalled` connections that send half a request's headers and
// wait. All of it from `sources`, for as long as it runs.
class Flood {
 public:
  struct Figures {
    long connects = 0, connect_failed = 0, requests = 0, answered = 0, refused_503 = 0,
         too_large_413 = 0, other_status = 0, closed = 0, stalled_opened = 0,
         stalled_closed = 0;
  };

  Flood(std::string ns, std::vector<std::string> sources, tcp::endpoint gateway, int connections,
        int stalled, const std::string& method)
      : ns_(std::move(ns)), gateway_(gateway), connections_(connections), stalled_(stalled) {
    Json::Value call(Json::objectValue);
    call["jsonrpc"] = "2.0";
    call["id"] = 1;
    call["method"] = method;
    Json::StreamWriterBuilder w;
    w["indentation"] = "";
    well_formed_ = Json::writeString(w, call);
    for (auto& a : sources) sources_.push_back(net::ip::make_address(a));
    oversized_.assign(100 << 10, 'x');  // more than daemon.rpcMaxBodyBytes (64 KiB)
  }
  ~Flood() { stop(); }

  void start() {
    thread_ = std::thread([this] {
      try {
        run_in_netns_thread(ns_, [this] {
          for (int i = 0; i < connections_; ++i)
            net::post(io_, [this, i] {
              workers_.push_back(std::make_shared<Worker>(*this, i));
              workers_.back()->connect();
            });
          for (int i = 0; i < stalled_; ++i)
            net::post(io_, [this, i] {
              stallers_.push_back(std::make_shared<Staller>(*this, i));
              stallers_.back()->connect();
            });
          io_.run();
        });
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex_);
        error_ = e.what();
      }
    });
  }
  // Ends the flood and closes its connections (the thread is gone, so
  // nothing else touches them).
  void stop() {
    stopping_ = true;
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    beast::error_code ignored;
    for (auto& w : workers_) w->stream.socket().close(ignored);
    for (auto& s : stallers_) s->socket.close(ignored);
  }
  Figures figures() const {
    std::lock_guard lock(mutex_);
    return figures_;
  }
  std::string error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  template <class F>
  void count(F f) {
    std::lock_guard lock(mutex_);
    f(figures_);
  }

  struct Worker : std::enable_shared_from_this<Worker> {
    Worker(Flood& f, int index) : flood(f), index(index), stream(f.io_) {}
    void connect() {
      if (flood.stopping_) return;
      beast::error_code ec;
      stream.socket().close(ec);
      stream.socket().open(tcp::v4(), ec);
      if (!ec)
        stream.socket().bind(tcp::endpoint(flood.sources_[index % flood.sources_.size()], 0), ec);
      if (ec) {
        flood.count([](Figures& f) { ++f.connect_failed; });
        return retry_later();
      }
      stream.expires_after(10s);
      stream.async_connect(flood.gateway_, [self = shared_from_this()](beast::error_code ec) {
        self->flood.count([&](Figures& f) { ec ? ++f.connect_failed : ++f.connects; });
        if (ec) return self->retry_later();
        self->send();
      });
    }
    // After a failed connect (the gateway's backlog is full, ports ran out):
    // 10 ms, so that a refusal does not become a busy loop of this process.
    void retry_later() {
      auto t = std::make_shared<net::steady_timer>(flood.io_, 10ms);
      t->async_wait([self = shared_from_this(), t](beast::error_code ec) {
        if (!ec) self->connect();
      });
    }
    void send() {
      if (flood.stopping_) return;
      const int kind = sent++ % 10;
      req = {http::verb::post, "/jsonrpc", 11};
      req.set(http::field::host, flood.gateway_.address().to_string());
      req.set(http::field::content_type, "application/json");
      req.keep_alive(true);
      if (kind == 0)
        req.body() = flood.oversized_;
      else if (kind <= 2)
        req.body() = "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ";
      else
        req.body() = flood.well_formed_;
      req.prepare_payload();
      res.emplace();
      res->body_limit(1 << 20);
      stream.expires_after(10s);
      flood.count([](Figures& f) { ++f.requests; });
      http::async_write(stream, req, [self = shared_from_this()](beast::error_code ec, size_t) {
        // The gateway may answer 413 and close before the body is sent.
        if (ec) return self->read();
        self->read();
      });
    }
    void read() {
      http::async_read(stream, buffer, *res,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         self->on_read(ec);
                       });
    }
    void on_read(beast::error_code ec) {
      if (ec) {
        flood.count([](Figures& f) { ++f.closed; });
        return reconnect();
      }
      const auto status = res->get().result();
      flood.count([&](Figures& f) {
        ++f.answered;
        if (status == http::status::service_unavailable)
          ++f.refused_503;
        else if (status == http::status::payload_too_large)
          ++f.too_large_413;
        else if (status != http::status::ok)
          ++f.other_status;
      });
      if (!res->get().keep_alive()) return reconnect();
      send();
    }
    void reconnect() {
      beast::error_code ignored;
      stream.socket().close(ignored);
      buffer.clear();
      connect();
    }

    Flood& flood;
    int index;
    int sent = 0;
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    std::optional<http::response_parser<http::string_body>> res;
  };

  // Sends the start of a request and nothing more; when the gateway gives
  // up on it (daemon.rpcTimeout), starts again.
  struct Staller : std::enable_shared_from_this<Staller> {
    Staller(Flood& f, int index) : flood(f), index(index), socket(f.io_) {}
    void connect() {
      if (flood.stopping_) return;
      beast::error_code ec;
      socket.close(ec);
      socket.open(tcp::v4(), ec);
      if (!ec)
        socket.bind(tcp::endpoint(flood.sources_[index % flood.sources_.size()], 0), ec);
      if (ec) return;
      socket.async_connect(flood.gateway_, [self = shared_from_this()](beast::error_code ec) {
        if (ec) {
          auto t = std::make_shared<net::steady_timer>(self->flood.io_, 100ms);
          return t->async_wait([self, t](beast::error_code e) {
            if (!e) self->connect();
          });
        }
        self->flood.count([](Figures& f) { ++f.stalled_opened; });
        net::async_write(self->socket, net::buffer(self->partial),
                         [self](beast::error_code ec, size_t) {
                           if (ec) return self->closed();
                           self->wait();
                         });
      });
    }
    // Anything the gateway sends (a 503 when it refused us) is read and
    // dropped; its end of the connection closing starts a new one.
    void wait() {
      socket.async_read_some(net::buffer(drain), [self = shared_from_this()](beast::error_code ec,
                                                                             size_t) {
        if (ec) return self->closed();
        self->wait();
      });
    }
    void closed() {
      flood.count([](Figures& f) { ++f.stalled_closed; });
      beast::error_code ignored;
      socket.close(ignored);
      connect();
    }

    Flood& flood;
    int index;
    tcp::socket socket;
    std::array<char, 4096> drain{};
    std::string partial = "POST /jsonrpc HTTP/1.1\r\nHost: gateway\r\nContent-Type: appl";
  };

  std::string ns_;
  tcp::endpoint gateway_;
  int connections_, stalled_;
  std::vector<net::ip::address> sources_;
  std::string oversized_, well_formed_;
  std::atomic<bool> stopping_{false};
  net::io_context io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{io_.get_executor()};
  // After io_: their sockets go before it. Touched by the io thread only,
  // until stop() has joined it.
  std::vector<std::shared_ptr<Worker>> workers_;
  std::vector<std::shared_ptr<Staller>> stallers_;
  std::thread thread_;
  mutable std::mutex mutex_;
  Figures figures_;
  std::string error_;
};

}  // namespace mnigs::test::load
