// HTTP tunnel requests: an HTTP client in one namespace asks a web service on
// a node that nobody can reach, through the gateway's public front (plugin
// tunnel/httptunnel), and the same service directly, in the same run:
//
//   client ---- gw ---- node       link 1: client–gw, link 2: gw–node
//
// Real mnigsds in gw (httptunnel.listen, the front) and in node (its link to
// gw holds a token and an id). The service is a small Boost.Beast server in
// this process, listening in node on 0.0.0.0: the node's mnigsd reaches it
// on 127.0.0.1, and "direct" reaches it on node's address through gw, which
// forwards (the same veth hops as the tunnel, without mnigsd). The load is
// this process's own HTTP/1.1 client, in the client namespace: N keep-alive
// connections, each sending its requests one after another for --seconds.
//
//   direct   GET http://<node>:9000/small
//   token    GET http://<front>/_token/<token>/small       (WStunnel's way)
//   named    GET http://<front>/small, Host: hello.tim.tunnel.test
//
// Rows: req/s, p50 and p99 latency and errors at each concurrency, and the
// ratio to direct; errors at concurrency 100 (from one address, and spread
// over four: the front takes at most 256 connections from one address); MB/s
// of one 100 MB download and upload (median of --runs). The targets are
// reported under the table, never asserted.
//
//   mnigs_httptunnel_bench [--seconds 3] [--concurrency 1,10,64] [--burst 100]
//                          [--megabytes 100] [--runs 3] [--verbose] [--daemon-debug]
//
// Needs root (network namespaces). See bench/README.md.
#include <json/json.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// After <utility>: Boost 1.74's asio/awaitable.hpp uses std::exchange without it.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "args.hpp"
#include "harness/netns.hpp"
#include "harness/node.hpp"
#include "harness/rpc_client.hpp"
#include "harness/text.hpp"
#include "harness/topology.hpp"
#include "harness/wait.hpp"
#include "mesh.hpp"

namespace mnigs::test {
namespace {

using bench::Args;
using bench::Clock;
using bench::median;
using bench::percentile;
using bench::process_cpu_seconds;
using bench::seconds_since;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr int kFrontPort = 8080;
constexpr int kServicePort = 9000;
const std::string kToken = "0123456789abcdef-bench";
const std::string kDomain = "tunnel.test";
const std::string kId = "tim";
const std::string kService = "hello";
// The small answer: 128 bytes, about a JSON status or a small API reply.
const std::string kSmallBody(128, 's');
// The client's extra addresses on its link (10.77.1.0/24, its own is .1),
// for the rows that spread connections over several sources.
const std::vector<std::string> kExtraSources = {"10.77.1.11", "10.77.1.12", "10.77.1.13"};
// Every read and write of the load, and of the service, must progress
// within this; a request that does not is an error.
constexpr auto kIoTimeout = 10s;
// What one read or write of a transfer takes at most.
constexpr std::size_t kChunk = 64 * 1024;

struct Options {
  int seconds = 3;  // per load row
  std::vector<int> concurrency{1, 10, 64};
  int burst = 100;      // the concurrency whose errors are counted
  int megabytes = 100;  // each transfer
  int runs = 3;         // transfers, each way and path
  bool verbose = false;
  bool daemon_debug = false;  // mnigsd -v, and the logs' tails at the end
};

// ------------------------------------------------------------ the service

// The web service on the node: GET /small answers kSmallBody, GET /bytes/N
// N bytes, POST /upload reads the body and answers its length. Keep-alive
// as the client asks (the node's mnigsd keeps its connections). One
// thread, one io_context; the listening socket is made in the node's
// namespace, so everything it accepts is there.
class Service {
 public:
  Service(const std::string& ns, int port) : acceptor_(io_) {
    run_in_netns_thread(ns, [&] {
      const tcp::endpoint at(net::ip::address_v4::any(), static_cast<unsigned short>(port));
      acceptor_.open(at.protocol());
      acceptor_.set_option(tcp::acceptor::reuse_address(true));
      acceptor_.bind(at);
      acceptor_.listen(net::socket_base::max_listen_connections);
    });
    do_accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Service() {
    io_.stop();
    thread_.join();
  }
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

 private:
  class Session;

  void do_accept();

  net::io_context io_{1};
  tcp::acceptor acceptor_;
  std::thread thread_;
};

class Service::Session : public std::enable_shared_from_this<Service::Session> {
 public:
  explicit Session(tcp::socket socket) : stream_(std::move(socket)) {
    stream_.socket().set_option(tcp::no_delay(true));
  }
  void start() { do_read_head(); }

 private:
  void do_read_head() {
    parser_.emplace();
    parser_->body_limit(std::uint64_t{1} << 40);
    stream_.expires_after(kIoTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_read_head, shared_from_this()));
  }
  void on_read_head(beast::error_code ec, std::size_t) {
    if (ec) return stream_.close();
    received_ = 0;
    do_read_body();
  }
  // Reads (and drops) the body, if any, then answers.
  void do_read_body() {
    if (parser_->is_done()) return answer();
    parser_->get().body().data = scratch_.data();
    parser_->get().body().size = kChunk;
    stream_.expires_after(kIoTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::on_read_body, shared_from_this()));
  }
  void on_read_body(beast::error_code ec, std::size_t) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return stream_.close();
    received_ += kChunk - parser_->get().body().size;
    do_read_body();
  }
  void answer() {
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    const std::string connection = keep_alive_ ? "" : "Connection: close\r\n";
    const std::string target(req.target());
    bulk_left_ = 0;
    std::string body;
    unsigned status = 200;
    if (req.method() == http::verb::post && target == "/upload") {
      body = std::to_string(received_) + "\n";
    } else if (req.method() == http::verb::get && target.rfind("/bytes/", 0) == 0) {
      bulk_left_ = std::stoull("0" + target.substr(7));
      head_ = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
              std::to_string(bulk_left_) + "\r\n" + connection + "\r\n";
      return do_write();
    } else if (req.method() == http::verb::get) {
      body = kSmallBody;
    } else {
      status = 405;
      body = "GET or POST /upload\n";
    }
    head_ = "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Not Allowed") +
            "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
            "\r\n" + connection + "\r\n" + body;
    do_write();
  }
  // Writes head_, then bulk_left_ bytes of 'x', kChunk at a time.
  void do_write() {
    stream_.expires_after(kIoTimeout);
    const net::const_buffer buffer =
        !head_.empty() ? net::const_buffer(net::buffer(head_))
                       : net::buffer(bulk_.data(), std::min<std::uint64_t>(bulk_left_, kChunk));
    net::async_write(stream_, buffer,
                     beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }
  void on_write(beast::error_code ec, std::size_t n) {
    if (ec) return stream_.close();
    if (!head_.empty())
      head_.clear();
    else
      bulk_left_ -= n;
    if (bulk_left_ > 0) return do_write();
    if (keep_alive_) return do_read_head();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::buffer_body>> parser_;
  std::array<char, kChunk> scratch_;
  static inline const std::string bulk_ = std::string(kChunk, 'x');
  std::string head_;
  std::uint64_t received_ = 0, bulk_left_ = 0;
  bool keep_alive_ = true;
};

void Service::do_accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket s) {
    if (!ec) std::make_shared<Session>(std::move(s))->start();
    if (ec != net::error::operation_aborted) do_accept();
  });
}

// ------------------------------------------------------------ the load

// Where a request goes: the server's address and port, the target, and the
// Host field (which picks a named service at the front).
struct Path {
  std::string label;  // "direct", "token", "named"
  tcp::endpoint server;
  std::string target;
  std::string host;
};

struct Tally {
  std::uint64_t ok = 0, errors = 0, connections = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;  // of the answered requests
  std::map<std::string, int> kinds;  // error -> how many
  double rate() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
  void error(const std::string& what) {
    ++errors;
    ++kinds[what];
  }
};

// One client connection: requests one after another on keep-alive until
// `deadline`; a request begun before it is finished (or fails within
// kIoTimeout). A failure is counted, the connection closed, and a new one
// made after a pause (so that a refusing server is not hammered).
class LoadConnection : public std::enable_shared_from_this<LoadConnection> {
 public:
  LoadConnection(net::io_context& io, const Path& path, net::ip::address source,
                 Clock::time_point deadline, Tally& tally)
      : stream_(io), pause_(io), path_(path), source_(source), deadline_(deadline), tally_(tally) {
    req_ = {http::verb::get, path.target, 11};
    req_.set(http::field::host, path.host);
    req_.prepare_payload();
  }
  void start() { do_connect(); }

 private:
  void do_connect() {
    if (Clock::now() >= deadline_) return;
    beast::error_code ec;
    stream_.socket().open(tcp::v4(), ec);
    if (!ec) stream_.socket().bind(tcp::endpoint(source_, 0), ec);
    if (ec) return fail(ec, "bind");
    stream_.socket().set_option(tcp::no_delay(true), ec);
    stream_.expires_after(kIoTimeout);
    stream_.async_connect(
        path_.server, beast::bind_front_handler(&LoadConnection::on_connect, shared_from_this()));
  }
  void on_connect(beast::error_code ec) {
    if (ec) return fail(ec, "connect");
    ++tally_.connections;
    do_write();
  }
  void do_write() {
    if (Clock::now() >= deadline_) return stream_.close();
    sent_ = Clock::now();
    stream_.expires_after(kIoTimeout);
    http::async_write(stream_, req_,
                      beast::bind_front_handler(&LoadConnection::on_write, shared_from_this()));
  }
  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "write");
    res_ = {};
    http::async_read(stream_, buffer_, res_,
                     beast::bind_front_handler(&LoadConnection::on_read, shared_from_this()));
  }
  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return fail(ec, "read");
    if (res_.result() != http::status::ok || res_.body() != kSmallBody) {
      std::string body = res_.body().substr(0, 60);
      std::replace(body.begin(), body.end(), '\n', ' ');
      tally_.error("HTTP " + std::to_string(res_.result_int()) + " " + body);
      return reconnect();
    }
    ++tally_.ok;
    tally_.latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
    if (!res_.keep_alive()) {
      beast::error_code ignored;
      stream_.socket().close(ignored);
      buffer_.clear();
      return do_connect();
    }
    do_write();
  }
  void fail(beast::error_code ec, const char* what) {
    tally_.error(std::string(what) + ": " + ec.message());
    reconnect();
  }
  void reconnect() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    buffer_.clear();
    pause_.expires_after(20ms);
    pause_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->do_connect();
    });
  }

  beast::tcp_stream stream_;
  net::steady_timer pause_;
  const Path& path_;
  net::ip::address source_;
  Clock::time_point deadline_;
  Tally& tally_;
  http::request<http::empty_body> req_;
  http::response<http::string_body> res_;
  beast::flat_buffer buffer_;
  Clock::time_point sent_;
};

// `concurrency` connections to `path` for `seconds`, from the client
// namespace `ns`, connection i from sources[i % size]. One thread: the
// io_context runs on a thread that joined `ns`, so its sockets are there.
Tally run_load(const std::string& ns, const Path& path, int concurrency, int seconds,
               const std::vector<std::string>& sources) {
  Tally tally;
  run_in_netns_thread(ns, [&] {
    net::io_context io(1);
    const auto t0 = Clock::now();
    const auto deadline = t0 + std::chrono::seconds(seconds);
    for (int i = 0; i < concurrency; ++i)
      std::make_shared<LoadConnection>(io, path, net::ip::make_address(sources[i % sources.size()]),
                                       deadline, tally)
          ->start();
    io.run();
    tally.seconds = seconds_since(t0);
  });
  return tally;
}

// ------------------------------------------------------------ transfers

// One upload or download of `bytes` on a new connection: the seconds from
// sending the request to the whole answer, or an error text.
class Transfer : public std::enable_shared_from_this<Transfer> {
 public:
  Transfer(net::io_context& io, const Path& path, bool upload, std::uint64_t bytes)
      : stream_(io), path_(path), upload_(upload), bytes_(bytes) {}

  void start() {
    stream_.expires_after(kIoTimeout);
    stream_.async_connect(path_.server,
                          beast::bind_front_handler(&Transfer::on_connect, shared_from_this()));
  }
  double seconds = 0;
  std::string error;

 private:
  void on_connect(beast::error_code ec) {
    if (ec) return fail(ec, "connect");
    t0_ = Clock::now();
    const std::string target = upload_ ? "/upload" : "/bytes/" + std::to_string(bytes_);
    const std::string prefix = path_.target.substr(0, path_.target.rfind('/'));
    head_ = std::string(upload_ ? "POST " : "GET ") + prefix + target +
            " HTTP/1.1\r\nHost: " + path_.host + "\r\n" +
            (upload_ ? "Content-Type: application/octet-stream\r\nContent-Length: " +
                           std::to_string(bytes_) + "\r\n"
                     : "") +
            "\r\n";
    left_ = upload_ ? bytes_ : 0;
    do_write(net::buffer(head_));
  }
  void do_write(net::const_buffer b) {
    stream_.expires_after(kIoTimeout);
    net::async_write(stream_, b,
                     beast::bind_front_handler(&Transfer::on_write, shared_from_this()));
  }
  void on_write(beast::error_code ec, std::size_t n) {
    if (ec) return fail(ec, "write");
    if (!head_.empty())
      head_.clear();
    else
      left_ -= n;
    if (left_ > 0)
      return do_write(net::buffer(bulk_.data(), std::min<std::uint64_t>(left_, kChunk)));
    parser_.body_limit(std::uint64_t{1} << 40);
    do_read();
  }
  void do_read() {
    if (parser_.is_done()) return done();
    parser_.get().body().data = scratch_.data();
    parser_.get().body().size = kChunk;
    stream_.expires_after(kIoTimeout);
    http::async_read_some(stream_, buffer_, parser_,
                          beast::bind_front_handler(&Transfer::on_read, shared_from_this()));
  }
  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return fail(ec, "read");
    received_ += kChunk - parser_.get().body().size;
    do_read();
  }
  void done() {
    seconds = seconds_since(t0_);
    const auto status = parser_.get().result_int();
    const std::uint64_t want = upload_ ? std::to_string(bytes_).size() + 1 : bytes_;
    if (status != 200 || received_ != want)
      error = "HTTP " + std::to_string(status) + ", " + std::to_string(received_) +
              " bytes of answer, " + std::to_string(want) + " expected";
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }
  void fail(beast::error_code ec, const char* what) {
    error = std::string(what) + ": " + ec.message();
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  const Path& path_;
  bool upload_;
  std::uint64_t bytes_, left_ = 0, received_ = 0;
  std::string head_;
  static inline const std::string bulk_ = std::string(kChunk, 'x');
  std::array<char, kChunk> scratch_;
  beast::flat_buffer buffer_;
  http::response_parser<http::buffer_body> parser_;
  Clock::time_point t0_;
};

// MB/s (1e6 bytes) of one transfer from the client namespace; throws on a
// failure.
double run_transfer(const std::string& ns, const Path& path, bool upload, std::uint64_t bytes) {
  std::shared_ptr<Transfer> t;
  run_in_netns_thread(ns, [&] {
    net::io_context io(1);
    t = std::make_shared<Transfer>(io, path, upload, bytes);
    t->start();
    io.run();
  });
  if (!t->error.empty() || t->seconds <= 0)
    throw std::runtime_error(std::string(upload ? "upload" : "download") + " " + path.label + ": " +
                             (t->error.empty() ? "took no time" : t->error));
  return static_cast<double>(bytes) / 1e6 / t->seconds;
}

// ------------------------------------------------------------ the lab

struct Lab {
  Topology topology;  // declared first: destroyed after everything in it
  std::unique_ptr<Service> service;
  std::unique_ptr<Node> gw, node;
  std::vector<Path> paths;  // direct, token, named
  std::string client_address;

  static Json::Value plugin_status(const Node& n) {
    Json::Value r = n.rpc("listPlugins");
    if (!rpc_succeeded(r)) return Json::Value();
    for (const auto& p : r["result"]["plugins"])
      if (p["name"].asString() == "httptunnel") return p["status"];
    return Json::Value();
  }
  // Both of the node's links (token and id) are up.
  bool links_up() const {
    const Json::Value links = plugin_status(*node)["node"]["links"];
    if (links.size() != 2) return false;
    for (const auto& l : links)
      if (l["state"].asString() != "up") return false;
    return true;
  }
  std::string logs() const { return gw->log_tail(20) + node->log_tail(20); }
};

std::unique_ptr<Lab> build_lab(bool daemon_debug) {
  auto lab = std::make_unique<Lab>();
  Topology& t = lab->topology;
  t.node("client").node("gw").node("node");
  t.link("client", "gw").link("gw", "node");
  t.up();
  // "direct": client and node reach each other through gw, which forwards.
  const std::string gw_client = t.address("gw", "client"), gw_node = t.address("gw", "node");
  const std::string node_address = t.address("node", "gw");
  run_checked({"sysctl", "-qw", "net.ipv4.ip_forward=1"}, t.ns("gw"), 10s);
  run_checked({"ip", "route", "add", "10.77.2.0/24", "via", gw_client}, t.ns("client"), 10s);
  run_checked({"ip", "route", "add", "10.77.1.0/24", "via", gw_node}, t.ns("node"), 10s);
  for (const auto& a : kExtraSources)
    run_checked({"ip", "addr", "add", a + "/24", "dev", t.interface("client", "gw")},
                t.ns("client"), 10s);
  lab->client_address = t.address("client", "gw");
  lab->service = std::make_unique<Service>(t.ns("node"), kServicePort);

  NodeOptions gw_options;
  gw_options.only_discovery("static")
      .set("httptunnel", "listen",
           "[" + yaml_quote(gw_client + ":" + std::to_string(kFrontPort)) + "]")
      .set("httptunnel", "domain", yaml_quote(kDomain));
  gw_options.verbose = daemon_debug;  // else debug logging would be part of what is measured
  lab->gw = std::make_unique<Node>(t, "gw", gw_options);
  lab->gw->start();
  lab->gw->wait_ready();

  const std::string service = "http://127.0.0.1:" + std::to_string(kServicePort);
  NodeOptions node_options;
  node_options.only_discovery("static")
      .set("httptunnel", "gateways",
           "[" + yaml_quote(gw_node + ":" + std::to_string(lab->gw->rpc_port())) + "]")
      .set("httptunnel", "id", kId)
      .set("httptunnel", "services",
           "[" + yaml_quote(kService + "=" + std::to_string(kServicePort)) + "]")
      .set("httptunnel", "token", yaml_quote(kToken))
      .set("httptunnel", "server", yaml_quote(service));
  node_options.verbose = daemon_debug;
  lab->node = std::make_unique<Node>(t, "node", node_options);
  lab->node->start();
  lab->node->wait_ready();
  if (!wait_until([&] { return lab->links_up(); }, 100, 100ms))
    throw std::runtime_error("the node's links to gw are not up within 10 s: " +
                             to_json(Lab::plugin_status(*lab->node)) + "\n" + lab->logs());

  const tcp::endpoint front(net::ip::make_address(gw_client), kFrontPort);
  lab->paths = {
      {"direct",
       {net::ip::make_address(node_address), kServicePort},
       "/small",
       node_address + ":" + std::to_string(kServicePort)},
      {"token", front, "/_token/" + kToken + "/small", gw_client},
      {"named", front, "/small", kService + "." + kId + "." + kDomain},
  };
  // Every path answers before anything is measured.
  for (const Path& p : lab->paths) {
    const Tally warm = run_load(t.ns("client"), p, 1, 1, {lab->client_address});
    if (warm.ok == 0 || warm.errors > 0)
      throw std::runtime_error(
          "the " + p.label + " path does not answer: " + std::to_string(warm.errors) +
          " error(s), first " + (warm.kinds.empty() ? "none" : warm.kinds.begin()->first) + "\n" +
          lab->logs());
  }
  return lab;
}

// ------------------------------------------------------------ the table

struct LoadRow {
  int concurrency = 0;
  int sources = 1;
  const Path* path = nullptr;
  Tally tally;
  double cpu_percent = 0;  // the two mnigsds' CPU time, as a share of one core
};

// Until the node's links are up again (a row may have brought one down),
// at most 10 s; false if they are not.
bool links_back(const Lab& lab) {
  return wait_until([&] { return lab.links_up(); }, 100, 100ms);
}

LoadRow measure(const Lab& lab, const Path& path, int concurrency, int seconds, int sources,
                bool verbose) {
  if (path.label != "direct" && !links_back(lab))
    std::fprintf(stderr, "the node's links are not up before %s c%d\n", path.label.c_str(),
                 concurrency);
  std::vector<std::string> from{lab.client_address};
  for (int i = 1; i < sources; ++i) from.push_back(kExtraSources[i - 1]);
  const double cpu0 = process_cpu_seconds(lab.gw->pid()) + process_cpu_seconds(lab.node->pid());
  LoadRow row{concurrency, sources, &path,
              run_load(lab.topology.ns("client"), path, concurrency, seconds, from)};
  const double cpu = process_cpu_seconds(lab.gw->pid()) + process_cpu_seconds(lab.node->pid());
  row.cpu_percent = 100 * (cpu - cpu0) / row.tally.seconds;
  if (verbose) {
    std::fprintf(stderr, "%s c%d from %d: %llu ok, %llu errors in %.2f s, %llu connections\n",
                 path.label.c_str(), concurrency, sources,
                 static_cast<unsigned long long>(row.tally.ok),
                 static_cast<unsigned long long>(row.tally.errors), row.tally.seconds,
                 static_cast<unsigned long long>(row.tally.connections));
    for (const auto& [what, n] : row.tally.kinds)
      std::fprintf(stderr, "  %6d %s\n", n, what.c_str());
  }
  return row;
}

void print_load(const std::vector<LoadRow>& rows) {
  std::printf("\n%5s %4s  %-7s %9s %7s %7s %7s %7s  %6s %6s\n", "conns", "from", "path", "req/s",
              "p50 ms", "p99 ms", "errors", "ratio", "+p50ms", "CPU %");
  const LoadRow* direct = nullptr;
  for (const auto& r : rows) {
    if (r.path->label == "direct") direct = &r;
    const double p50 = percentile(r.tally.latencies_ms, 0.5);
    const double p99 = percentile(r.tally.latencies_ms, 0.99);
    std::printf("%5d %4d  %-7s %9.0f %7.2f %7.2f %7llu", r.concurrency, r.sources,
                r.path->label.c_str(), r.tally.rate(), p50, p99,
                static_cast<unsigned long long>(r.tally.errors));
    if (direct && direct != &r && direct->concurrency == r.concurrency && direct->tally.rate() > 0)
      std::printf(" %7.2f  %+6.2f", r.tally.rate() / direct->tally.rate(),
                  p50 - percentile(direct->tally.latencies_ms, 0.5));
    else
      std::printf(" %7s  %6s", "", "");
    std::printf(" %6.0f\n", r.cpu_percent);
  }
}

struct TransferRow {
  std::string way;  // "down" or "up"
  const Path* path = nullptr;
  std::vector<double> mbs;
  std::string error;
};

int run(const Options& o) {
  std::string conc;
  for (int c : o.concurrency) conc += (conc.empty() ? "" : ", ") + std::to_string(c);
  std::printf(
      "httptunnel: GET of %zu bytes on keep-alive connections, client -- gw (front) -- node "
      "(service)\nconcurrency %s and %d, %d s per row; %d MB down and up, median of %d run(s)\n",
      kSmallBody.size(), conc.c_str(), o.burst, o.seconds, o.megabytes, o.runs);
  std::fflush(stdout);
  auto lab = build_lab(o.daemon_debug);
  const std::string client = lab->topology.ns("client");

  // Each concurrency: direct, then through the tunnel, one after another,
  // so that a change in the machine's load falls on all of them.
  std::vector<LoadRow> rows;
  for (int c : o.concurrency)
    for (const Path& p : lab->paths) rows.push_back(measure(*lab, p, c, o.seconds, 1, o.verbose));
  for (const Path& p : lab->paths)
    rows.push_back(measure(*lab, p, o.burst, o.seconds, 1, o.verbose));
  for (const Path& p : lab->paths)
    if (p.label != "direct")
      rows.push_back(measure(*lab, p, o.burst, o.seconds,
                             1 + static_cast<int>(kExtraSources.size()), o.verbose));

  std::vector<TransferRow> transfers;
  for (const char* way : {"down", "up"})
    for (const Path& p : lab->paths) transfers.push_back({way, &p, {}, ""});
  const std::uint64_t bytes = static_cast<std::uint64_t>(o.megabytes) * 1'000'000;
  for (int run = 0; run < o.runs; ++run)
    for (auto& t : transfers) {
      if (!t.error.empty()) continue;
      if (t.path->label != "direct") links_back(*lab);
      try {
        t.mbs.push_back(run_transfer(client, *t.path, t.way == "up", bytes));
        if (o.verbose)
          std::fprintf(stderr, "%s %s run %d: %.1f MB/s\n", t.way.c_str(), t.path->label.c_str(),
                       run + 1, t.mbs.back());
      } catch (const std::exception& e) {
        t.error = e.what();
      }
    }

  if (o.daemon_debug) std::cerr << lab->gw->log_tail(400) << lab->node->log_tail(400);
  print_load(rows);
  std::printf("\n%-5s %-7s %9s %7s\n", "way", "path", "MB/s", "ratio");
  double direct_mbs = 0;
  for (const auto& t : transfers) {
    const double mbs = median(t.mbs);
    if (t.path->label == "direct") direct_mbs = mbs;
    if (!t.error.empty()) {
      std::printf("%-5s %-7s failed: %s\n", t.way.c_str(), t.path->label.c_str(), t.error.c_str());
      continue;
    }
    std::printf("%-5s %-7s %9.1f", t.way.c_str(), t.path->label.c_str(), mbs);
    if (t.path->label != "direct" && direct_mbs > 0) std::printf(" %7.2f", mbs / direct_mbs);
    std::printf("\n");
  }

  // The targets, reported.
  std::printf("\ntargets (reported, not asserted):\n");
  auto find = [&](const std::string& label, int c, int sources) -> const LoadRow* {
    for (const auto& r : rows)
      if (r.path->label == label && r.concurrency == c && r.sources == sources) return &r;
    return nullptr;
  };
  auto verdict = [](bool met) { return met ? "met" : "NOT met"; };
  for (const char* label : {"token", "named"}) {
    for (int c : o.concurrency) {
      const LoadRow* d = find("direct", c, 1);
      const LoadRow* r = find(label, c, 1);
      if (!d || !r || d->tally.rate() <= 0) continue;
      const double ratio = r->tally.rate() / d->tally.rate();
      const double extra =
          percentile(r->tally.latencies_ms, 0.5) - percentile(d->tally.latencies_ms, 0.5);
      if (c >= 10)
        std::printf("  %-5s c%-3d req/s >= 50%% of direct: %4.0f%%  %s\n", label, c, 100 * ratio,
                    verdict(ratio >= 0.5));
      std::printf("  %-5s c%-3d p50 <= direct + 0.5 ms: %+.2f ms  %s\n", label, c, extra,
                  verdict(extra <= 0.5));
    }
    for (int sources : {1, 1 + static_cast<int>(kExtraSources.size())})
      if (const LoadRow* r = find(label, o.burst, sources))
        std::printf("  %-5s c%-3d from %d address(es), no errors: %llu  %s\n", label, o.burst,
                    sources, static_cast<unsigned long long>(r->tally.errors),
                    verdict(r->tally.errors == 0));
  }
  for (const auto& t : transfers) {
    if (t.path->label == "direct") continue;
    const TransferRow* d = nullptr;
    for (const auto& u : transfers)
      if (u.way == t.way && u.path->label == "direct") d = &u;
    if (!d || d->mbs.empty() || t.mbs.empty()) continue;
    const double ratio = median(t.mbs) / median(d->mbs);
    std::printf("  %-5s %-4s %d MB >= 30%% of direct: %4.0f%%  %s\n", t.path->label.c_str(),
                t.way.c_str(), o.megabytes, 100 * ratio, verdict(ratio >= 0.3));
  }
  for (const auto& r : rows)
    if (r.tally.errors > 0) {
      std::printf("\nerrors, %s c%d from %d address(es):\n", r.path->label.c_str(), r.concurrency,
                  r.sources);
      for (const auto& [what, n] : r.tally.kinds) std::printf("  %6d  %s\n", n, what.c_str());
    }
  bool failed = false;
  for (const auto& t : transfers) failed = failed || !t.error.empty();
  return failed ? 1 : 0;
}

Options parse(int argc, char** argv) {
  Options o;
  Args args(argc, argv);
  while (args.next()) {
    if (args.flag() == "--seconds")
      o.seconds = args.number();
    else if (args.flag() == "--concurrency")
      o.concurrency = args.numbers();
    else if (args.flag() == "--burst")
      o.burst = args.number();
    else if (args.flag() == "--megabytes")
      o.megabytes = args.number();
    else if (args.flag() == "--runs")
      o.runs = args.number();
    else if (args.flag() == "--verbose")
      o.verbose = true;
    else if (args.flag() == "--daemon-debug")
      o.daemon_debug = true;
    else
      args.unknown(
          "--seconds N, --concurrency A,B,..., --burst N, --megabytes N, --runs N, --verbose, "
          "--daemon-debug");
  }
  if (o.seconds < 1 || o.seconds > 600) throw std::invalid_argument("--seconds must be 1..600");
  if (o.concurrency.empty()) throw std::invalid_argument("--concurrency needs at least one");
  for (int c : o.concurrency)
    if (c < 1 || c > 1000) throw std::invalid_argument("concurrencies must be 1..1000");
  if (o.burst < 1 || o.burst > 1000) throw std::invalid_argument("--burst must be 1..1000");
  if (o.megabytes < 1 || o.megabytes > 10000)
    throw std::invalid_argument("--megabytes must be 1..10000");
  if (o.runs < 1 || o.runs > 50) throw std::invalid_argument("--runs must be 1..50");
  return o;
}

}  // namespace
}  // namespace mnigs::test

int main(int argc, char** argv) {
  using namespace mnigs::test;
  return bench::bench_main("mnigs_httptunnel_bench", argc, argv, parse, run);
}
