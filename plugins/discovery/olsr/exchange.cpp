#include "exchange.hpp"

#include "util/host_port.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace mnigs::olsr {

namespace asio = boost::asio;
using asio::ip::tcp;

std::optional<tcp::endpoint> parse_endpoint(std::string_view text, std::string* why) {
  auto parsed = parse_host_port(text, {}, why);
  if (!parsed) return std::nullopt;
  return tcp::endpoint(asio::ip::make_address(parsed->host), parsed->port);
}

std::string endpoint_text(const tcp::endpoint& endpoint) {
  auto a = endpoint.address();
  std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

std::shared_ptr<Exchange> Exchange::start(asio::any_io_executor executor, tcp::endpoint endpoint,
                                          std::string request, Limits limits, Complete complete,
                                          Done done) {
  auto e = std::make_shared<Exchange>(std::move(executor), endpoint, std::move(request), limits,
                                      std::move(complete), std::move(done));
  // Every handler holds the exchange, so it lives until the last one ran.
  asio::post(e->socket_.get_executor(), [e] { e->do_connect(); });
  return e;
}

Exchange::Exchange(asio::any_io_executor executor, tcp::endpoint endpoint, std::string request,
                   Limits limits, Complete complete, Done done)
    : socket_(executor),
      deadline_(executor),
      endpoint_(endpoint),
      request_(std::move(request)),
      limits_(limits),
      complete_(std::move(complete)),
      done_(std::move(done)) {}

void Exchange::cancel() {
  done_ = nullptr;
  finish("cancelled");
}

void Exchange::do_connect() {
  if (finished_) return;
  deadline_.expires_after(limits_.timeout);
  deadline_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) { self->on_deadline(ec); });
  socket_.async_connect(
      endpoint_,
      [self = shared_from_this()](const boost::system::error_code& ec) { self->on_connect(ec); });
}

void Exchange::on_connect(const boost::system::error_code& ec) {
  if (finished_) return;
  if (ec) return finish("cannot connect to " + endpoint_text(endpoint_) + ": " + ec.message());
  connected_ = true;
  asio::async_write(socket_, asio::buffer(request_),
                    [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                      self->on_write(ec);
                    });
}

void Exchange::on_write(const boost::system::error_code& ec) {
  if (finished_) return;
  if (ec)
    return finish("cannot send the request to " + endpoint_text(endpoint_) + ": " + ec.message());
  do_read();
}

void Exchange::do_read() {
  buffer_.resize(16 * 1024);
  socket_.async_read_some(asio::buffer(buffer_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      std::size_t n) { self->on_read(ec, n); });
}

void Exchange::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (finished_) return;
  reply_.append(buffer_.data(), n);
  if (reply_.size() > limits_.max_bytes)
    return finish("the reply from " + endpoint_text(endpoint_) + " exceeds " +
                  std::to_string(limits_.max_bytes) + " bytes");
  if (complete_) {
    if (auto whole = complete_(reply_)) {
      reply_.resize(*whole);
      return finish("");
    }
  }
  // The daemons end a reply by closing. A reset after data is taken as the
  // end too: a daemon that closes with unread request bytes sends RST.
  bool closed = ec == asio::error::eof || (ec == asio::error::connection_reset && !reply_.empty());
  if (closed) {
    if (reply_.empty())
      return finish(endpoint_text(endpoint_) + " closed the connection without a reply");
    return finish("");
  }
  if (ec)
    return finish("cannot read the reply from " + endpoint_text(endpoint_) + ": " + ec.message());
  do_read();
}

void Exchange::on_deadline(const boost::system::error_code& ec) {
  if (ec || finished_) return;  // cancelled: the exchange ended in time
  finish(std::string(connected_ ? "no complete reply from " : "no connection to ") +
         endpoint_text(endpoint_) + " within " + std::to_string(limits_.timeout.count()) + " ms");
}

void Exchange::finish(std::string error) {
  if (finished_) return;
  finished_ = true;
  deadline_.cancel();
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (auto done = std::move(done_)) {
    done_ = nullptr;
    ExchangeResult result{std::move(reply_), std::move(error)};
    done(std::move(result));
  }
}

}  // namespace mnigs::olsr
