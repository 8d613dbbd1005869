#include "server.hpp"

#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mnigs/log.hpp>

#include "handshake.hpp"
#include "page.hpp"
#include "util/host_port.hpp"
#include "util/net.hpp"

namespace mnigs::tether {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr const char* kProtocol = "mnigs-tether";
constexpr std::string_view kCodePrefix = "mnigs-pair.";

// The page may talk to any gateway (its address is the user's to give), to
// nothing else but this server, and may not be framed.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
    "connect-src 'self' http: https: ws: wss:; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

}  // namespace

std::string origin_refusal(const std::string* origin, const std::string* host) {
  if (!host || host->empty()) return "no Host header";
  if (!parse_host_port(*host, {.default_port = 80}))
    return "Host \"" + *host + "\" is not this laptop's address: open the page by address";
  if (!origin) return "no Origin header: only the tether page may open the tether";
  if (!beast::iequals(*origin, "http://" + *host))
    return "Origin \"" + *origin + "\" is not the tether page's (http://" + *host + ")";
  return "";
}

std::string offered_code(const websocket::Headers& headers) {
  auto items = websocket::header_items(headers, "Sec-WebSocket-Protocol");
  if (!items) return "";
  std::string code;
  for (const auto& item : *items) {
    if (!item.starts_with(kCodePrefix)) continue;
    if (!code.empty()) return "";
    code = item.substr(kCodePrefix.size());
    if (code.empty()) return "";
  }
  return code;
}

class Server::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<Server> server)
      : stream_(std::move(socket)),
        owner_(std::move(server)),
        server_(*owner_),
        open_(server_.open_) {
    ++*open_;
    beast::error_code ec;
    // An IPv4 page on a [::] listener is ::ffff:a.b.c.d: by its IPv4 name.
    remote_ = unmap(stream_.socket().remote_endpoint(ec).address()).to_string();
  }
  ~Connection() { --*open_; }

  void run() {
    parser_.header_limit(kHeaderLimit);
    parser_.body_limit(0);
    stream_.expires_after(kRequestTimeout);
    http::async_read(
        stream_, buffer_, parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec) return close();  // slow, broken, or a body where none belongs
    ++server_.counters_.requests;
    const auto& req = parser_.get();
    std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    websocket::Headers headers;
    for (const auto& field : req)
      headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    if (path == "/tether" && websocket::find_header(headers, "Upgrade"))
      return upgrade(std::string(req.method_string()), headers);
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return answer(http::status::method_not_allowed, "text/plain", "GET only\n");
    const bool head = req.method() == http::verb::head;
    if (path == "/" || path == "/index.html")
      return answer(http::status::ok, "text/html; charset=utf-8", page_html, head);
    if (path == "/tether.js")
      return answer(http::status::ok, "text/javascript; charset=utf-8", page_js, head);
    answer(http::status::not_found, "text/plain", "not found\n", head);
  }

  void upgrade(const std::string& method, const websocket::Headers& headers) {
    auto refuse = [&](int status, const std::string& why) {
      ++server_.counters_.refused;
      // At most one line per 10 s: anyone on the Wi-Fi can send these.
      std::uint64_t held = 0;
      if (server_.refusal_log_.allow(std::chrono::steady_clock::now(), &held))
        server_.log_.info(
            "tether: refused a page from ", remote_, ": ", why,
            held ? " (" + std::to_string(held) + " more refusals not logged)" : std::string());
      write_and_close(websocket::response_error(status, why));
    };
    websocket::ServerUpgrade up = websocket::check_upgrade(method, headers, {kProtocol});
    if (!up.ok) return refuse(up.status, up.error);
    if (auto why = origin_refusal(websocket::find_header(headers, "Origin"),
                                  websocket::find_header(headers, "Host"));
        !why.empty())
      return refuse(403, why);
    if (up.protocol != kProtocol)
      return refuse(400, "the page must ask for the subprotocol mnigs-tether");
    const std::string code = offered_code(headers);
    if (code.empty()) return refuse(401, "no pairing code (subprotocol mnigs-pair.<code>)");
    switch (server_.pairing_.check(code)) {
      case Pairing::Check::ok:
        break;
      case Pairing::Check::wrong:
        return refuse(403, "wrong pairing code");
      case Pairing::Check::busy:
        return refuse(429, "too many wrong pairing codes lately; try again in a minute");
    }
    auto response = std::make_shared<std::string>(websocket::response_101(up));
    stream_.expires_never();
    net::async_write(stream_.socket(), net::buffer(*response),
                     [self = shared_from_this(), response](beast::error_code ec, std::size_t) {
                       if (ec) return self->close();
                       self->hand_over();
                     });
  }

  void hand_over() {
    if (server_.stopped_) return close();  // turned off during the handshake
    ++server_.counters_.paired;
    std::string pending = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    tcp::socket socket = stream_.release_socket();
    beast::error_code ec;
    socket.non_blocking(true, ec);
    if (ec) return;
    server_.log_.info("tether: a page paired from ", remote_);
    server_.on_page_(std::move(socket), std::move(pending), remote_);
  }

  void answer(http::status status, const char* type, std::string_view body, bool head = false) {
    auto res = std::make_shared<http::response<http::string_body>>(status, 11);
    res->set(http::field::server, "mnigsd-tether");
    res->set(http::field::content_type, type);
    res->set(http::field::cache_control, "no-store");
    res->set("X-Content-Type-Options", "nosniff");
    res->set("Content-Security-Policy", kPolicy);
    res->set("Referrer-Policy", "no-referrer");
    res->keep_alive(false);
    res->body() = std::string(body);
    res->prepare_payload();
    if (head) res->body().clear();
    stream_.expires_after(kRequestTimeout);
    http::async_write(
        stream_, *res,
        [self = shared_from_this(), res](beast::error_code, std::size_t) { self->close(); });
  }

  void write_and_close(std::string text) {
    auto bytes = std::make_shared<std::string>(std::move(text));
    stream_.expires_after(kRequestTimeout);
    net::async_write(
        stream_.socket(), net::buffer(*bytes),
        [self = shared_from_this(), bytes](beast::error_code, std::size_t) { self->close(); });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  std::shared_ptr<Server> owner_;  // outlives every connection it accepted
  Server& server_;
  std::shared_ptr<std::atomic<std::size_t>> open_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  std::string remote_;
};

Server::Server(net::io_context& io, const tcp::endpoint& endpoint, Pairing& pairing, OnPage on_page,
               Logger& log)
    : io_(io),
      acceptor_(io),
      retry_(io),
      pairing_(pairing),
      on_page_(std::move(on_page)),
      log_(log) {
  auto text = [](const tcp::endpoint& e) {
    const auto a = e.address();
    return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(e.port());
  };
  beast::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + text(endpoint) + ": " + ec.message());
  name_ = text(acceptor_.local_endpoint(ec));
}

void Server::start() { do_accept(); }

void Server::stop() {
  stopped_ = true;
  beast::error_code ec;
  acceptor_.close(ec);
  retry_.cancel();
}

void Server::do_accept() {
  acceptor_.async_accept(io_, [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
    if (ec == net::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (!ec) {
      if (*self->open_ >= max_connections) {
        ++self->counters_.busy;
        beast::error_code ignored;
        s.close(ignored);
      } else {
        std::make_shared<Connection>(std::move(s), self)->run();
      }
    } else {
      // Out of file descriptors and the like: wait a little instead of
      // spinning on the same error.
      self->log_.warn("tether: accept on ", self->name_, " failed: ", ec.message());
      self->retry_.expires_after(std::chrono::milliseconds(200));
      self->retry_.async_wait([self](beast::error_code e) {
        if (!e && self->acceptor_.is_open()) self->do_accept();
      });
      return;
    }
    self->do_accept();
  });
}

}  // namespace mnigs::tether
