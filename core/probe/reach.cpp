#include "probe/reach.hpp"

#include "util/host_port.hpp"
#include "util/net.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <memory>

namespace mnigs::probe {

namespace {
using boost::asio::ip::tcp;

struct Plan {
  enum class Kind { http, connect, lookup } kind = Kind::connect;
  std::string host, port, path = "/";
};

// What to do for `target`, or why it cannot be understood.
bool plan(const std::string& target, Plan& p, std::string& why) {
  std::string rest = target;
  std::uint16_t default_port = 0;
  if (rest.rfind("http://", 0) == 0) {
    p.kind = Plan::Kind::http;
    rest = rest.substr(7);
    default_port = 80;
  } else if (rest.rfind("https://", 0) == 0) {
    rest = rest.substr(8);
    default_port = 443;
  } else if (rest.find(':') == std::string::npos && rest.find('/') == std::string::npos) {
    p.kind = Plan::Kind::lookup;
    p.host = rest;
    p.port = "0";
    if (rest.empty() || rest.size() > 253) return why = "an empty or overlong name", false;
    return true;
  }
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    p.path = rest.substr(slash);
    rest = rest.substr(0, slash);
  }
  for (char c : p.path)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return why = "the path holds spaces or control characters", false;
  HostPortRules rules;
  rules.names = true;
  if (default_port) rules.default_port = default_port;
  auto hp = parse_host_port(rest, rules, &why);
  if (!hp) return false;
  p.host = hp->host;
  p.port = std::to_string(hp->port);
  return true;
}

struct Attempt : std::enable_shared_from_this<Attempt> {
  Attempt(boost::asio::any_io_executor ex, Reach& out, std::function<void()> done)
      : resolver(ex), socket(ex), timer(ex), out(out), done(std::move(done)) {}

  void start(const Plan& p, std::chrono::milliseconds timeout) {
    plan = p;
    auto self = shared_from_this();
    timer.expires_after(timeout);
    timer.async_wait([self, timeout](const boost::system::error_code& ec) {
      if (!ec)
        self->end(Reach::Outcome::unreachable,
                  "no answer within " + std::to_string(timeout.count()) + " ms");
    });
    // An address needs no lookup: it must not wait behind a slow name in
    // the resolver's one thread.
    if (auto address = parse_address(plan.host); address && plan.kind != Plan::Kind::lookup) {
      auto port = static_cast<std::uint16_t>(std::stoi(plan.port));
      return connect(tcp::resolver::results_type::create(tcp::endpoint(*address, port),
                                                         plan.host, plan.port));
    }
    resolver.async_resolve(plan.host, plan.port,
                           [self](const boost::system::error_code& ec,
                                  tcp::resolver::results_type r) {
                             if (self->ended) return;
                             if (ec) return self->end(Reach::Outcome::unreachable,
                                                      "lookup: " + ec.message());
                             if (self->plan.kind == Plan::Kind::lookup)
                               return self->end(Reach::Outcome::reachable,
                                                "resolved to " +
                                                    r.begin()->endpoint().address().to_string());
                             self->connect(r);
                           });
  }
  void connect(const tcp::resolver::results_type& r) {
    auto self = shared_from_this();
    boost::asio::async_connect(socket, r, [self](const boost::system::error_code& ec,
                                                 const tcp::endpoint& to) {
      if (self->ended) return;
      if (ec) return self->end(Reach::Outcome::unreachable, "connect: " + ec.message());
      if (self->plan.kind == Plan::Kind::connect)
        return self->end(Reach::Outcome::reachable, "connected to " + to.address().to_string());
      self->request = "GET " + self->plan.path + " HTTP/1.1\r\nHost: " + self->plan.host +
                      "\r\nUser-Agent: mnigs\r\nConnection: close\r\n\r\n";
      boost::asio::async_write(self->socket, boost::asio::buffer(self->request),
                               [self](const boost::system::error_code& ec, std::size_t) {
                                 if (self->ended) return;
                                 if (ec) return self->end(Reach::Outcome::unreachable,
                                                          "sending: " + ec.message());
                                 self->read_status();
                               });
    });
  }
  void read_status() {
    auto self = shared_from_this();
    boost::asio::async_read_until(
        socket, boost::asio::dynamic_buffer(answer, 1024), "\r\n",
        [self](const boost::system::error_code& ec, std::size_t n) {
          if (self->ended) return;
          if (ec) return self->end(Reach::Outcome::unreachable, "reading: " + ec.message());
          std::string line = self->answer.substr(0, n - 2);
          // "HTTP/1.x NNN reason"
          if (line.size() < 12 || line.rfind("HTTP/1.", 0) != 0 || line[8] != ' ')
            return self->end(Reach::Outcome::unreachable, "not an HTTP answer");
          const std::string code = line.substr(9, 3);
          const bool portal = code[0] == '3' || code == "511";
          self->end(portal ? Reach::Outcome::payment_required : Reach::Outcome::reachable,
                    "HTTP " + code + (portal ? " (a captive portal's answer)" : ""));
        });
  }
  void end(Reach::Outcome o, std::string detail) {
    if (ended) return;
    ended = true;
    out.outcome = o;
    out.detail = std::move(detail);
    timer.cancel();
    resolver.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    done();
  }

  tcp::resolver resolver;
  tcp::socket socket;
  boost::asio::steady_timer timer;
  Reach& out;
  std::function<void()> done;
  Plan plan;
  std::string request, answer;
  bool ended = false;
};

}  // namespace

const char* to_string(Reach::Outcome o) {
  switch (o) {
    case Reach::Outcome::reachable: return "reachable";
    case Reach::Outcome::payment_required: return "payment required";
    case Reach::Outcome::unreachable: return "unreachable";
    case Reach::Outcome::invalid: return "invalid";
  }
  return "?";
}

Json::Value to_json(const std::vector<Reach>& reach) {
  Json::Value out(Json::arrayValue);
  for (const auto& r : reach) {
    Json::Value v(Json::objectValue);
    v["target"] = r.target;
    v["outcome"] = to_string(r.outcome);
    v["detail"] = r.detail;
    out.append(v);
  }
  return out;
}

void check_reach(boost::asio::any_io_executor ex, const std::vector<std::string>& targets,
                 std::chrono::milliseconds timeout, std::function<void(std::vector<Reach>)> done) {
  auto results = std::make_shared<std::vector<Reach>>();
  for (const auto& t : targets) results->push_back(Reach{t, Reach::Outcome::invalid, ""});
  auto left = std::make_shared<std::size_t>(targets.size() + 1);
  auto one_done = [ex, results, left, done] {
    if (--*left == 0) boost::asio::post(ex, [results, done] { done(*results); });
  };
  for (std::size_t i = 0; i < targets.size(); ++i) {
    Plan p;
    std::string why;
    if (!plan(targets[i], p, why)) {
      (*results)[i].detail = why;
      one_done();
      continue;
    }
    std::make_shared<Attempt>(ex, (*results)[i], one_done)->start(p, timeout);
  }
  one_done();
}

}  // namespace mnigs::probe
