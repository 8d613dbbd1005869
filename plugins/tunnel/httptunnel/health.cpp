#include "health.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

namespace mnigs::httptunnel {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// One check of one target: connect, ask, read the answer's head.
struct HealthChecks::Check : std::enable_shared_from_this<Check> {
  Check(net::io_context& io, std::string request)
      : socket(io), resolver(io), deadline(io), request(std::move(request)) {
    parser.body_limit(0);
    parser.header_limit(16 * 1024);
    parser.skip(true);  // the head is all a check reads
  }
  tcp::socket socket;
  tcp::resolver resolver;
  net::steady_timer deadline;
  std::string request;
  boost::beast::flat_buffer buffer{16 * 1024};
  http::response_parser<http::empty_body> parser;
  bool finished = false;
};

HealthChecks::HealthChecks(net::io_context& io, Options options,
                           std::map<std::string, Target> targets)
    : io_(io), options_(std::move(options)), targets_(std::move(targets)) {}

HealthChecks::~HealthChecks() { stop(); }

void HealthChecks::start() {
  for (const auto& [name, target] : targets_) check(name);
}

void HealthChecks::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& [name, c] : running_) {
    error_code ignored;
    c->finished = true;
    c->deadline.cancel();
    c->resolver.cancel();
    c->socket.close(ignored);
  }
  running_.clear();
  for (auto& [name, timer] : timers_) timer->cancel();
  timers_.clear();
}

std::string HealthChecks::failing(const std::string& name) const {
  const auto it = state_.find(name);
  return it == state_.end() ? "" : it->second.error;
}

Json::Value HealthChecks::status() const {
  Json::Value out(Json::objectValue);
  for (const auto& [name, st] : state_) {
    Json::Value s(Json::objectValue);
    s["healthy"] = st.error.empty();
    s["checks"] = Json::UInt64(st.checks);
    if (!st.error.empty()) s["error"] = st.error;
    out[name] = s;
  }
  return out;
}

void HealthChecks::check(const std::string& name) {
  if (stopped_ || running_.count(name)) return;
  const Target& t = targets_.at(name);
  auto c = std::make_shared<Check>(io_, "GET " + t.prefix + options_.path +
                                            " HTTP/1.1\r\nHost: " + t.host_field +
                                            "\r\nUser-Agent: mnigs-httptunnel-health\r\n"
                                            "Connection: close\r\n\r\n");
  running_[name] = c;
  auto self = shared_from_this();
  const auto fail = [self, c, name](std::string why) {
    if (c->finished) return;
    c->finished = true;
    error_code ignored;
    c->socket.close(ignored);
    c->deadline.cancel();
    self->done(name, std::move(why));
  };
  c->deadline.expires_after(options_.timeout);
  c->deadline.async_wait([fail, timeout = options_.timeout](error_code ec) {
    if (!ec) fail("no answer within " + std::to_string(timeout.count()) + " ms");
  });
  const auto on_connected = [self, c, name, fail](error_code ec) {
    if (c->finished) return;
    if (ec) return fail("connect: " + ec.message());
    net::async_write(c->socket, net::buffer(c->request),
                     [self, c, name, fail](error_code ec, std::size_t) {
                       if (c->finished) return;
                       if (ec) return fail("send: " + ec.message());
                       http::async_read_header(
                           c->socket, c->buffer, c->parser,
                           [self, c, name, fail](error_code ec, std::size_t) {
                             if (c->finished) return;
                             if (ec) return fail("answer: " + ec.message());
                             const unsigned status = c->parser.get().result_int();
                             // A 4xx is the service answering (a path it
                             // does not know, a Host it does not serve).
                             if (status < 200 || status > 499)
                               return fail("answered " + std::to_string(status));
                             fail("");
                           });
                     });
  };
  error_code ec;
  const auto address = net::ip::make_address(t.host, ec);
  if (!ec) {
    c->socket.async_connect({address, t.port}, on_connected);
    return;
  }
  c->resolver.async_resolve(
      t.host, std::to_string(t.port),
      [c, fail, on_connected](error_code ec, const tcp::resolver::results_type& results) {
        if (c->finished) return;
        if (ec) return fail("resolve: " + ec.message());
        net::async_connect(c->socket, results,
                           [on_connected](error_code ec, const tcp::endpoint&) {
                             on_connected(ec);
                           });
      });
}

void HealthChecks::done(const std::string& name, std::string error) {
  running_.erase(name);
  if (stopped_) return;
  State& st = state_[name];
  ++st.checks;
  st.error = std::move(error);
  // The next check of this target, one interval on.
  auto& timer = timers_[name];
  if (!timer) timer = std::make_shared<net::steady_timer>(io_);
  timer->expires_after(options_.interval);
  timer->async_wait([weak = weak_from_this(), name](error_code ec) {
    auto self = weak.lock();
    if (!self || ec || self->stopped_) return;
    self->check(name);
  });
}

}  // namespace mnigs::httptunnel
