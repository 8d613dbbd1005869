#include "server.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <chrono>

namespace mnigs::webpage {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr std::size_t kHeadLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 16 * 1024;
constexpr auto kTimeout = std::chrono::seconds(10);

std::string plain(const boost::asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 302: return "Found";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

}  // namespace

class Server::Connection : public std::enable_shared_from_this<Server::Connection> {
 public:
  Connection(tcp::socket socket, std::string peer, Handler handler,
             std::shared_ptr<std::size_t> open,
             std::shared_ptr<std::map<std::string, std::size_t>> per_peer,
             std::shared_ptr<bool> alive)
      : stream_(std::move(socket)),
        peer_(std::move(peer)),
        handler_(std::move(handler)),
        open_(std::move(open)),
        per_peer_(std::move(per_peer)),
        alive_(std::move(alive)) {
    ++*open_;
    ++(*per_peer_)[peer_];
  }
  ~Connection() {
    --*open_;
    if (auto it = per_peer_->find(peer_); it != per_peer_->end() && --it->second == 0)
      per_peer_->erase(it);
  }

  void start() {
    parser_.header_limit(kHeadLimit);
    parser_.body_limit(kBodyLimit);
    stream_.expires_after(kTimeout);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

 private:
  void on_read(beast::error_code ec) {
    if (!*alive_) return;
    if (ec == http::error::body_limit) return send(text(413, "The request body is too large."));
    if (ec == http::error::header_limit) return send(text(400, "The request head is too large."));
    if (ec) return;  // timed out, closed, or not HTTP: nothing to answer
    const auto& m = parser_.get();
    Request r;
    r.method = std::string(m.method_string());
    r.target = std::string(m.target());
    r.host = std::string(m[http::field::host]);
    r.accept = std::string(m[http::field::accept]);
    r.content_type = std::string(m[http::field::content_type]);
    r.origin = std::string(m[http::field::origin]);
    r.webhook_id = std::string(m["webhook-id"]);
    r.webhook_timestamp = std::string(m["webhook-timestamp"]);
    r.webhook_signature = std::string(m["webhook-signature"]);
    r.body = m.body();
    beast::error_code e1, e2;
    auto remote = stream_.socket().remote_endpoint(e1);
    auto local = stream_.socket().local_endpoint(e2);
    if (e1 || e2) return;
    r.peer = plain(remote.address());
    r.local = plain(local.address());
    stream_.expires_after(kTimeout);
    handler_(std::move(r), [self = shared_from_this()](Response response) {
      self->send(std::move(response));
    });
  }

  void send(Response r) {
    if (!*alive_) return;
    auto res = std::make_shared<http::response<http::string_body>>();
    res->version(11);
    res->result(static_cast<unsigned>(r.status));
    res->reason(reason(r.status));
    res->set(http::field::server, "mnigs");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::connection, "close");
    res->set("X-Content-Type-Options", "nosniff");
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->body() = std::move(r.body);
    res->prepare_payload();
    stream_.expires_after(kTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code, std::size_t) {
                        beast::error_code ignored;
                        self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                      });
  }

  beast::tcp_stream stream_;
  std::string peer_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  Handler handler_;
  std::shared_ptr<std::size_t> open_;
  std::shared_ptr<std::map<std::string, std::size_t>> per_peer_;
  std::shared_ptr<bool> alive_;
};

Server::Server(boost::asio::any_io_executor ex, Logger& log, Handler handler)
    : ex_(std::move(ex)), log_(log), handler_(std::move(handler)) {}

Server::~Server() { stop(); }

std::string Server::listen(const std::vector<std::string>& addresses, std::uint16_t port) {
  std::string errors;
  for (const auto& text : addresses) {
    beast::error_code ec;
    auto address = boost::asio::ip::make_address(text, ec);
    if (ec) {
      errors += (errors.empty() ? "" : "; ") + text + " is not an IP address";
      continue;
    }
    auto acceptor = std::make_unique<tcp::acceptor>(ex_);
    tcp::endpoint ep(address, port);
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && address.is_v6()) acceptor->set_option(boost::asio::ip::v6_only(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(64, ec);
    if (ec) {
      errors += (errors.empty() ? "" : "; ") + text + " port " + std::to_string(port) + ": " +
                ec.message();
      continue;
    }
    acceptors_.push_back(std::move(acceptor));
    accept(acceptors_.size() - 1);
  }
  return errors;
}

void Server::accept(std::size_t index) {
  // Sockets on the plugin's strand, as everything of the plugin.
  acceptors_[index]->async_accept(
      [this, index, alive = alive_](beast::error_code ec, tcp::socket socket) {
        if (!*alive) return;
        if (ec == boost::asio::error::operation_aborted) return;
        if (ec) {
          // Out of descriptors or the like: try again in a while, not in a
          // busy loop.
          log_.warn("the payment page cannot accept: ", ec.message());
          if (!backoff_) backoff_ = std::make_unique<boost::asio::steady_timer>(ex_);
          backoff_->expires_after(std::chrono::milliseconds(500));
          backoff_->async_wait([this, index, alive](beast::error_code e) {
            if (!e && *alive) accept(index);
          });
          return;
        }
        beast::error_code e;
        const auto remote = socket.remote_endpoint(e);
        const std::string peer = e ? "" : plain(remote.address());
        const auto from_peer = per_peer_->find(peer);
        if (e || *open_ >= kMaxConnections ||
            (from_peer != per_peer_->end() && from_peer->second >= kMaxPerAddress)) {
          // Closed at once: the page is for a neighbourhood, not a crowd,
          // and no one address may take it all.
          beast::error_code ignored;
          socket.close(ignored);
        } else {
          std::make_shared<Connection>(std::move(socket), peer, handler_, open_, per_peer_,
                                       alive_)
              ->start();
        }
        accept(index);
      });
}

void Server::stop() {
  *alive_ = false;
  if (backoff_) backoff_->cancel();
  for (auto& a : acceptors_) {
    beast::error_code ignored;
    a->close(ignored);
  }
  acceptors_.clear();
}

}  // namespace mnigs::webpage
