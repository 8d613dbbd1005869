// Load on one gateway: many subscribers' sessions renewed on their schedule,
// first alone (the reference), then while a hostile neighbour floods the
// gateway's RPC port, measured in the same run.
//
// One gateway namespace runs mnigsd (gateway.enabled, suite
// static-forwarding-free). K subscriber namespaces, each linked to it by a
// veth pair, hold one source address per session; a thread per namespace
// drives its sessions with Boost.Asio and Boost.Beast: requestConnection,
// then renewConnection every subscriberTimeout/3 (with jitter), each call on
// a new connection bound to the session's address, as mnigsd's subscriber
// does. A hostile namespace, also linked to the gateway, floods its RPC port
// during the second phase: back-to-back requests on many connections,
// malformed and oversized bodies, and stalled partial requests.
//
//   mnigs_load_bench [--sessions 1000] [--namespaces 4] [--seconds 30] [--timeout 15]
//                    [--flood-connections 64] [--flood-stalled 8] [--flood-sources 1]
//                    [--flood-method nodeInfo]
//                    [--ramp-parallel 32] [--cli-checks 3] [--verbose]
//
// Needs root (network namespaces). See bench/README.md.
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
#include "harness/node.hpp"
#include "harness/reaper.hpp"
#include "harness/rpc_client.hpp"
#include "harness/topology.hpp"
#include "args.hpp"
#include "mesh.hpp"

namespace mnigs::test {
namespace {

using namespace bench;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

const std::string kSuite = "static-forwarding-free";
constexpr int kRpcPort = 65533;
// What mnigsd's subscriber allows each call (core/subscriber/connection.cpp).
constexpr auto kCallTimeout = 5s;
// How long the gateway may take to stop at the end before it is killed.
constexpr int kStopSeconds = 120;
// JSON-RPC error codes that end a session at the subscriber (rpc_api.hpp).
constexpr int kNotFound = -32004;
constexpr int kUnauthorized = -32001;

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
const char* phase_name(int p) {
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

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

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

// ------------------------------------------------------------ the gateway process

struct ProcessSample {
  double cpu_seconds = 0;           // utime + stime, without children
  double children_cpu_seconds = 0;  // cutime + cstime: reaped children (ip, nft)
  double rss_mib = 0, hwm_mib = 0;
};

ProcessSample sample_process(pid_t pid) {
  ProcessSample out;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (std::getline(stat, line)) {
    const auto paren = line.rfind(')');
    if (paren != std::string::npos) {
      std::istringstream fields(line.substr(paren + 2));
      // After the command name: state is field 3; utime..cstime are 14..17.
      std::vector<std::string> f;
      for (std::string s; fields >> s && f.size() < 15;) f.push_back(s);
      const auto hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
      if (f.size() == 15) {
        out.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / hz;
        out.children_cpu_seconds = (std::stod(f[13]) + std::stod(f[14])) / hz;
      }
    }
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string l; std::getline(status, l);) {
    auto kib = [&](const char* key) {
      return l.rfind(key, 0) == 0 ? std::stod(l.substr(std::string(key).size())) / 1024 : -1.0;
    };
    if (double v = kib("VmRSS:"); v >= 0) out.rss_mib = v;
    if (double v = kib("VmHWM:"); v >= 0) out.hwm_mib = v;
  }
  return out;
}

// ------------------------------------------------------------ phases

struct PhaseResult {
  double seconds = 0;
  int held_gateway = -1;   // our sessions the gateway lists at the end
  int listed_total = -1;   // every session the gateway lists
  std::string list_error;
  double cpu_percent = 0, rss_mib = 0, rss_max_mib = 0, hwm_mib = 0;
  int cli_runs = 0, cli_ok = 0;
  double cli_max_ms = 0;
  std::string cli_error;
  Tally tally;
};

// Adds `addresses` (/32 each) to lo in namespace `ns` with one `ip -batch`.
void add_addresses(const Topology& t, const std::string& node,
                   const std::vector<std::string>& addresses, const std::string& dir) {
  const std::string file = dir + "/" + node + ".batch";
  {
    std::ofstream out(file);
    for (const auto& a : addresses) out << "address add " << a << "/32 dev lo\n";
  }
  run_checked({"ip", "-n", t.ns(node), "-batch", file}, "", 120s);
}

std::string subscriber_node(int k) { return "s" + std::to_string(k + 1); }

// Session j of subscriber namespace k: 10.(101+k).(j/250).(j%250+1).
std::string subscriber_address(int k, int j) {
  return "10." + std::to_string(101 + k) + "." + std::to_string(j / 250) + "." +
         std::to_string(j % 250 + 1);
}

// The gateway answers "starting" to session calls until it has loaded its
// stored sessions. A renewal of a session that does not exist tells the two
// apart without creating one: "starting", then "no such session".
void wait_sessions_ready(const Node& gw) {
  Json::Value p(Json::objectValue);
  p["sessionId"] = "0";
  p["secret"] = "0";
  Json::Value reply;
  const auto t0 = Clock::now();
  while (seconds_since(t0) < 30) {
    reply = gw.rpc("renewConnection", p);
    if (rpc_error_code(reply) == kNotFound) return;
    std::this_thread::sleep_for(50ms);
  }
  throw std::runtime_error("the gateway's sessions are not ready after 30 s: " + to_json(reply));
}

// Each subscriber namespace holds its sessions' addresses, the hostile one
// its own; the gateway routes each namespace's /16 back over its link.
void add_routes(const Topology& t, const std::vector<std::vector<std::string>>& sources,
                const std::vector<std::string>& hostile, const std::string& dir) {
  for (size_t k = 0; k < sources.size(); ++k) {
    const std::string node = subscriber_node(static_cast<int>(k));
    add_addresses(t, node, sources[k], dir);
    run_checked({"ip", "route", "add", "10." + std::to_string(101 + k) + ".0.0/16", "via",
                 t.address(node, "gw")},
                t.ns("gw"));
  }
  add_addresses(t, "hx", hostile, dir);
  run_checked({"ip", "route", "add", "10.200.0.0/16", "via", t.address("hx", "gw")}, t.ns("gw"));
  // An uplink for the forwarding plugin to find, as on a gateway with a
  // default route and the default config (forwarding.uplink empty).
  // (A veth pair inside the namespace: not every kernel has the dummy module.)
  run_checked({"ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0-peer"}, t.ns("gw"));
  run_checked({"ip", "link", "set", "up0", "up"}, t.ns("gw"));
  run_checked({"ip", "link", "set", "up0-peer", "up"}, t.ns("gw"));
  run_checked({"ip", "address", "add", "192.0.2.1/24", "dev", "up0"}, t.ns("gw"));
  run_checked({"ip", "route", "add", "default", "via", "192.0.2.254"}, t.ns("gw"));
}

// Our session ids the gateway lists, and how many it lists in all.
void check_listed(const Node& gw, const std::vector<std::vector<std::string>>& ids,
                  PhaseResult& r) {
  Json::Value reply;
  try {
    reply = rpc(gw.ns(), "127.0.0.1", kRpcPort, "listSessions", Json::Value(Json::objectValue), "",
                30s);
  } catch (const RpcError& e) {
    r.list_error = e.what();
    return;
  }
  if (!rpc_succeeded(reply)) {
    r.list_error = to_json(reply).substr(0, 300);
    return;
  }
  std::set<std::string> listed;
  for (const auto& s : reply["result"]["gateway"]) listed.insert(s["sessionId"].asString());
  r.listed_total = static_cast<int>(listed.size());
  r.held_gateway = 0;
  for (const auto& group : ids)
    for (const auto& id : group) r.held_gateway += listed.count(id) ? 1 : 0;
}

// Runs for `seconds`: samples the gateway's RSS every 250 ms and runs
// `mnigs-cli --status` in the gateway namespace `cli_checks` times, spread
// over the phase.
void run_phase(const Node& gw, int seconds, int cli_checks, PhaseResult& r) {
  const auto t0 = Clock::now();
  const ProcessSample first = sample_process(gw.pid());
  r.rss_max_mib = first.rss_mib;
  int cli_done = 0;
  while (seconds_since(t0) < seconds) {
    const double due = seconds * (cli_done + 0.5) / std::max(1, cli_checks);
    if (cli_done < cli_checks && seconds_since(t0) >= due) {
      ++cli_done;
      const auto c0 = Clock::now();
      const CommandResult c = gw.cli({"--status"}, 20s);
      const double ms = seconds_since(c0) * 1000;
      ++r.cli_runs;
      r.cli_max_ms = std::max(r.cli_max_ms, ms);
      if (c.exit_code == 0 && c.out.find("sessions") != std::string::npos)
        ++r.cli_ok;
      else if (r.cli_error.empty())
        r.cli_error = "exit " + std::to_string(c.exit_code) + (c.timed_out ? " (timed out)" : "") +
                      ": " + c.err.substr(0, 200);
    }
    r.rss_max_mib = std::max(r.rss_max_mib, sample_process(gw.pid()).rss_mib);
    std::this_thread::sleep_for(250ms);
  }
  const ProcessSample last = sample_process(gw.pid());
  r.seconds = seconds_since(t0);
  r.cpu_percent = 100 * (last.cpu_seconds - first.cpu_seconds) / r.seconds;
  r.rss_mib = last.rss_mib;
  r.rss_max_mib = std::max(r.rss_max_mib, last.rss_mib);
  r.hwm_mib = last.hwm_mib;
}

// The table: one header, one row per phase, columns of the same widths.
constexpr const char* kHeaderFormat = "%-5s %11s %11s %7s %7s %8s %8s %8s %6s %6s %10s\n";
constexpr const char* kRowFormat =
    "%-5s %5d/%-5d %11.1f %7.1f %7.1f %8d %8.1f %8.1f %6.1f %4d/%-1d %10.0f\n";

void print_header() {
  std::printf(kHeaderFormat, "phase", "held", "renewals/s", "p50 ms", "p99 ms", "failures",
              "RSS MiB", "peak MiB", "CPU %", "CLI ok", "CLI max ms");
}

void print_row(const char* name, const PhaseResult& r, int sessions) {
  const auto& t = r.tally;
  std::printf(kRowFormat, name, r.held_gateway, sessions, t.renewed / r.seconds,
              percentile(t.latencies_ms, 0.5), percentile(t.latencies_ms, 0.99), t.failures(),
              r.rss_mib, r.hwm_mib, r.cpu_percent, r.cli_ok, r.cli_runs, r.cli_max_ms);
}

// Starts the subscribers, waits until every session was requested, and
// prints the ramp-up line. Returns the sessions established.
int ramp_up(std::vector<std::unique_ptr<Subscribers>>& groups, const Node& gw,
            const Options& o) {
  const ProcessSample before = sample_process(gw.pid());
  const auto t0 = Clock::now();
  for (auto& g : groups) g->start(std::max(1, o.ramp_parallel / o.namespaces));
  // Bounded: 60 s, plus a quarter of a second per session (the bench's
  // machine opens about 20 a second).
  const double limit = 60 + 0.25 * o.sessions;
  int established = 0, failed = 0, retries = 0;
  std::string request_error, retry_error;
  for (;;) {
    established = failed = retries = 0;
    for (auto& g : groups) {
      const auto s = g->snapshot();
      if (!s.thread_error.empty()) throw std::runtime_error("subscribers: " + s.thread_error);
      established += s.established;
      failed += s.request_failed;
      retries += s.retries;
      if (request_error.empty()) request_error = s.request_error;
      if (retry_error.empty()) retry_error = s.retry_error;
    }
    if (established + failed >= o.sessions) break;
    if (seconds_since(t0) > limit)
      throw std::runtime_error("ramp-up: " + std::to_string(established) + " of " +
                               std::to_string(o.sessions) + " sessions after " +
                               std::to_string(static_cast<int>(limit)) + " s");
    std::this_thread::sleep_for(20ms);
  }
  const double seconds = seconds_since(t0);
  const ProcessSample after = sample_process(gw.pid());
  std::printf("ramp-up: %d of %d sessions in %.1f s (%.0f/s), %d retried, %d failed; gateway CPU "
              "%.0f%% (and %.0f%% in the commands it ran), RSS %.1f MiB\n",
              established, o.sessions, seconds, established / seconds, retries, failed,
              100 * (after.cpu_seconds - before.cpu_seconds) / seconds,
              100 * (after.children_cpu_seconds - before.children_cpu_seconds) / seconds,
              after.rss_mib);
  if (retries) std::printf("  first retried request: %s\n", retry_error.c_str());
  if (failed) std::printf("  first request failure: %s\n", request_error.c_str());
  std::fflush(stdout);
  return established;
}

int run(const Options& o) {
  std::atomic<int> phase{ramp};
  Topology t;
  t.node("gw");
  for (int k = 0; k < o.namespaces; ++k) t.node(subscriber_node(k));
  t.node("hx");
  for (int k = 0; k < o.namespaces; ++k) t.link("gw", subscriber_node(k));
  t.link("gw", "hx");
  t.up();
  bench::Scratch scratch("load-bench");

  std::vector<std::vector<std::string>> sources(o.namespaces);
  for (int i = 0; i < o.sessions; ++i)
    sources[i % o.namespaces].push_back(
        subscriber_address(i % o.namespaces, static_cast<int>(sources[i % o.namespaces].size())));
  std::vector<std::string> hostile;
  for (int i = 0; i < o.flood_sources; ++i)
    hostile.push_back("10.200." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
  add_routes(t, sources, hostile, scratch.path());

  NodeOptions options;
  options.verbose = false;  // debug logging would be part of what is measured
  options.only_discovery("static")
      .set("gateway", "enabled", "true")
      .set("gateway", "maxConnections", std::to_string(o.sessions + 100))
      .set("gateway", "subscriberTimeout", std::to_string(o.timeout))
      .set("scan", "interval", "0");
  Node gw(t, "gw", options);
  gw.launch();
  const Json::Value info = gw.rpc("nodeInfo");
  bool offered = false;
  for (const auto& s : info["result"]["suites"]) offered |= s.asString() == kSuite;
  if (!offered)
    throw std::runtime_error("the gateway does not offer " + kSuite + ": " + to_json(info) +
                             "\nplugins: " + to_json(gw.rpc("listPlugins")));

  wait_sessions_ready(gw);

  std::cout << "gateway load: " << o.sessions << " sessions from " << o.namespaces
            << " namespaces, suite " << kSuite << ", gateway.subscriberTimeout " << o.timeout
            << " s (renewals every " << o.timeout / 3.0 << " s +-10%)\n"
            << "phases of " << o.seconds << " s: quiet (the reference), then flood: "
            << o.flood_connections << " connections sending back to back and "
            << o.flood_stalled << " stalled, from " << o.flood_sources
            << " hostile address(es); its well-formed requests call " << o.flood_method << "\n\n";

  std::vector<std::unique_ptr<Subscribers>> groups;
  for (int k = 0; k < o.namespaces; ++k) {
    const tcp::endpoint to(net::ip::make_address(t.address("gw", subscriber_node(k))), kRpcPort);
    groups.push_back(std::make_unique<Subscribers>(t.ns(subscriber_node(k)), sources[k], to, o,
                                                   phase, 1234u + k));
  }
  const int established = ramp_up(groups, gw, o);

  auto ids = [&] {
    std::vector<std::vector<std::string>> out;
    for (auto& g : groups) out.push_back(g->snapshot().ids);
    return out;
  };

  PhaseResult results[4];
  phase = quiet;
  if (o.verbose) std::cerr << "quiet phase\n";
  run_phase(gw, o.seconds, o.cli_checks, results[quiet]);
  // Renewals that start between the phases count for neither.
  phase = after;
  check_listed(gw, ids(), results[quiet]);

  if (o.verbose) std::cerr << "flood phase\n";
  const tcp::endpoint hostile_to(net::ip::make_address(t.address("gw", "hx")), kRpcPort);
  Flood flooder(t.ns("hx"), hostile, hostile_to, o.flood_connections, o.flood_stalled,
                o.flood_method);
  phase = flood;
  flooder.start();
  run_phase(gw, o.seconds, o.cli_checks, results[flood]);
  phase = after;
  flooder.stop();
  check_listed(gw, ids(), results[flood]);
  const Flood::Figures ff = flooder.figures();

  // Renewals that were under way when the flood stopped: a moment to end.
  std::this_thread::sleep_for(kCallTimeout + 1s);
  for (auto& g : groups) g->stop();
  // mnigsd closes the tunnel end of every session when it stops.
  const auto stop0 = Clock::now();
  const int stop_code = gw.stop(std::chrono::seconds(kStopSeconds));
  const double stop_seconds = seconds_since(stop0);

  int lost = 0;
  std::vector<std::string> lost_lines;
  for (auto& g : groups) {
    const auto s = g->snapshot();
    for (int p = 0; p < 4; ++p) results[p].tally.merge(s.tally[p]);
    lost += s.lost;
    lost_lines.insert(lost_lines.end(), s.lost_lines.begin(), s.lost_lines.end());
  }

  std::printf("\n");
  print_header();
  print_row("quiet", results[quiet], established);
  print_row("flood", results[flood], established);
  const auto& q = results[quiet];
  const auto& f = results[flood];
  const double q_rate = q.tally.renewed / q.seconds, f_rate = f.tally.renewed / f.seconds;
  const double q_p99 = percentile(q.tally.latencies_ms, 0.99);
  const double f_p99 = percentile(f.tally.latencies_ms, 0.99);
  std::printf("flood/quiet: renewals/s %.2f, p99 %.2f\n", q_rate > 0 ? f_rate / q_rate : 0.0,
              q_p99 > 0 ? f_p99 / q_p99 : 0.0);
  std::printf("flood: %ld requests (%.0f/s), %ld answered, %ld refused with 503, %ld 413, %ld "
              "other non-200; %ld connections opened, %ld failed to connect, %ld closed by the "
              "gateway; stalled: %ld opened, %ld closed by the gateway\n",
              ff.requests, ff.requests / f.seconds, ff.answered, ff.refused_503, ff.too_large_413,
              ff.other_status, ff.connects, ff.connect_failed, ff.closed, ff.stalled_opened,
              ff.stalled_closed);
  if (!flooder.error().empty()) std::printf("flood error: %s\n", flooder.error().c_str());

  bool failed = established < o.sessions || lost > 0;
  for (int p : {quiet, flood}) {
    const auto& r = results[p];
    if (r.tally.failures())
      std::printf("%s: %d renewals failed (%d refused, %d JSON-RPC errors, %d HTTP errors, %d "
                  "transport); first: %s\n",
                  phase_name(p), r.tally.failures(), r.tally.refused, r.tally.rpc_errors,
                  r.tally.http_errors, r.tally.transport, r.tally.first_error.c_str());
    if (!r.list_error.empty()) {
      std::printf("%s: listSessions failed: %s\n", phase_name(p), r.list_error.c_str());
      failed = true;
    } else if (r.held_gateway != established || r.listed_total != established) {
      std::printf("%s: the gateway lists %d sessions, %d of the %d established\n", phase_name(p),
                  r.listed_total, r.held_gateway, established);
      failed = true;
    }
    if (r.cli_ok < r.cli_runs) {
      std::printf("%s: mnigs-cli answered %d of %d times; first failure: %s\n", phase_name(p),
                  r.cli_ok, r.cli_runs, r.cli_error.c_str());
      failed = true;
    }
  }
  const std::string killed =
      stop_code == 128 + SIGKILL ? ", killed after " + std::to_string(kStopSeconds) + " s" : "";
  std::printf("gateway stopped in %.1f s with %d sessions held (SIGTERM; exit code %d%s)\n",
              stop_seconds, f.held_gateway, stop_code, killed.c_str());
  std::printf("sessions lost: %d\n", lost);
  for (size_t i = 0; i < lost_lines.size() && i < 10; ++i)
    std::printf("  %s\n", lost_lines[i].c_str());
  if (lost_lines.size() > 10) std::printf("  ... and %zu more\n", lost_lines.size() - 10);
  std::cout << std::flush;
  return failed ? 1 : 0;
}

Options parse(int argc, char** argv) {
  Options o;
  for (Args args(argc, argv); args.next();) {
    const std::string a = args.flag();
    if (a == "--sessions") {
      o.sessions = args.number();
    } else if (a == "--namespaces") {
      o.namespaces = args.number();
    } else if (a == "--seconds") {
      o.seconds = args.number();
    } else if (a == "--timeout") {
      o.timeout = args.number();
    } else if (a == "--flood-connections") {
      o.flood_connections = args.number();
    } else if (a == "--flood-stalled") {
      o.flood_stalled = args.number();
    } else if (a == "--flood-sources") {
      o.flood_sources = args.number();
    } else if (a == "--flood-method") {
      o.flood_method = args.value();
    } else if (a == "--ramp-parallel") {
      o.ramp_parallel = args.number();
    } else if (a == "--cli-checks") {
      o.cli_checks = args.number();
    } else if (a == "--verbose" || a == "-v") {
      o.verbose = true;
    } else {
      args.unknown("--sessions N, --namespaces N, --seconds N, --timeout N, "
                   "--flood-connections N, --flood-stalled N, --flood-sources N, "
                   "--flood-method NAME, --ramp-parallel N, --cli-checks N, --verbose");
    }
  }
  if (o.namespaces < 1 || o.namespaces > 50)
    throw std::invalid_argument("--namespaces must be 1..50");
  if (o.sessions < 1 || o.sessions > 250 * 256 * o.namespaces || o.sessions > 60000)
    throw std::invalid_argument("--sessions must be 1..60000 (at most 64000 per namespace)");
  if (o.seconds < 1 || o.seconds > 3600) throw std::invalid_argument("--seconds must be 1..3600");
  if (o.timeout < 5 || o.timeout > 86400)
    throw std::invalid_argument("--timeout must be 5..86400 (gateway.subscriberTimeout)");
  if (o.seconds * 3 < o.timeout)
    throw std::invalid_argument("--seconds must be at least --timeout/3: every session renews "
                                "once in a phase");
  if (o.flood_connections < 0 || o.flood_connections > 10000 || o.flood_stalled < 0 ||
      o.flood_stalled > 10000)
    throw std::invalid_argument("--flood-connections and --flood-stalled must be 0..10000");
  if (o.flood_sources < 1 || o.flood_sources > 10000)
    throw std::invalid_argument("--flood-sources must be 1..10000");
  if (o.ramp_parallel < 1 || o.ramp_parallel > 1000)
    throw std::invalid_argument("--ramp-parallel must be 1..1000");
  if (o.cli_checks < 0 || o.cli_checks > 100)
    throw std::invalid_argument("--cli-checks must be 0..100");
  return o;
}

}  // namespace
}  // namespace mnigs::test

int main(int argc, char** argv) {
  using namespace mnigs::test;
  // A connection the gateway closed must not end the bench when written to.
  ::signal(SIGPIPE, SIG_IGN);
  return bench::bench_main("mnigs_load_bench", argc, argv, parse, run);
}
