#include "admin_client.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>

#include "admin_protocol.hpp"

namespace mnigs::cjdns {

namespace asio = boost::asio;
using Status = AdminClient::Reply::Status;

std::shared_ptr<AdminClient> AdminClient::create(asio::any_io_executor executor, AdminTarget target,
                                                 std::chrono::milliseconds timeout,
                                                 MalformedHandler on_malformed) {
  return std::shared_ptr<AdminClient>(
      new AdminClient(std::move(executor), std::move(target), timeout, std::move(on_malformed)));
}

AdminClient::AdminClient(asio::any_io_executor executor, AdminTarget target,
                         std::chrono::milliseconds timeout, MalformedHandler on_malformed)
    : executor_(executor),
      target_(std::move(target)),
      timeout_(timeout),
      on_malformed_(std::move(on_malformed)),
      socket_(executor),
      timer_(executor),
      // One byte more than the largest reply, so an oversized one shows.
      buffer_(kMaxReplyBytes + 1),
      random_(std::random_device{}()) {}

void AdminClient::call(std::string function, bencode::Value args, Done done) {
  function_ = std::move(function);
  args_ = std::move(args);
  done_ = std::move(done);
  std::string why;
  if (!open(&why)) {
    Reply r;
    r.status = Status::io_error;
    r.error = why;
    // Completions never run inside call(): the caller may still hold state.
    asio::post(executor_, [self = shared_from_this(), r]() mutable { self->finish(std::move(r)); });
    return;
  }
  stage_ = Stage::cookie;
  txid_ = next_txid();
  send(cookie_request(txid_));
}

void AdminClient::close() {
  closed_ = true;
  done_ = nullptr;
  stage_ = Stage::idle;
  boost::system::error_code ignored;
  timer_.cancel();
  socket_.close(ignored);
}

bool AdminClient::open(std::string* why) {
  if (closed_) {
    *why = "the client was closed";
    return false;
  }
  if (socket_.is_open()) return true;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(target_.address, ec);
  if (ec) {
    *why = "\"" + target_.address + "\" is not an IP address";
    return false;
  }
  asio::ip::udp::endpoint endpoint(address, target_.port);
  socket_.open(endpoint.protocol(), ec);
  // A connected UDP socket only receives from cjdroute's address and learns
  // of "port unreachable", so a stopped cjdroute is reported at once.
  if (!ec) socket_.connect(endpoint, ec);
  if (ec) {
    *why = ec.message();
    socket_.close(ec);
    return false;
  }
  return true;
}

std::string AdminClient::next_txid() {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(random_()));
  return buf;
}

void AdminClient::send(std::string datagram) {
  arm_timer();
  auto data = std::make_shared<std::string>(std::move(datagram));
  socket_.async_send(asio::buffer(*data), [self = shared_from_this(), data](
                                              const boost::system::error_code& ec, std::size_t) {
    if (ec == asio::error::operation_aborted || self->closed_) return;
    if (ec) {
      Reply r;
      r.status = ec == asio::error::connection_refused ? Status::refused : Status::io_error;
      r.error = ec.message();
      self->finish(std::move(r));
    }
  });
  if (!receiving_) do_receive();
}

void AdminClient::do_receive() {
  receiving_ = true;
  socket_.async_receive(asio::buffer(buffer_),
                        [self = shared_from_this()](const boost::system::error_code& ec,
                                                    std::size_t n) { self->on_receive(ec, n); });
}

void AdminClient::on_receive(const boost::system::error_code& ec, std::size_t n) {
  receiving_ = false;
  if (ec == asio::error::operation_aborted || closed_) return;
  if (ec) {
    Reply r;
    r.status = ec == asio::error::connection_refused ? Status::refused : Status::io_error;
    r.error = ec.message();
    finish(std::move(r));
  } else if (n > kMaxReplyBytes) {
    if (on_malformed_) on_malformed_("a datagram larger than 64 KiB");
  } else {
    on_datagram(std::string_view(buffer_.data(), n));
  }
  // Keep listening while the socket is open: a refused send is reported on a
  // receive, and late replies must be drained.
  if (!closed_ && socket_.is_open() && !receiving_) do_receive();
}

void AdminClient::on_datagram(std::string_view data) {
  std::string why;
  auto message = bencode::decode(data, &why);
  if (!message) {
    if (on_malformed_) on_malformed_("undecodable reply (" + why + ")");
    return;
  }
  if (!message->is_dict()) {
    if (on_malformed_) on_malformed_("a reply that is not a dictionary");
    return;
  }
  auto txid = message->get_string("txid");
  // Not ours, or the answer to a request that already timed out.
  if (stage_ == Stage::idle || !txid || *txid != txid_) return;

  if (stage_ == Stage::cookie) {
    std::string cookie;
    if (auto s = message->get_string("cookie"))
      cookie = *s;
    else if (auto i = message->get_integer("cookie"))
      cookie = std::to_string(*i);
    if (cookie.empty() || cookie.size() > 20 ||
        cookie.find_first_not_of("0123456789") != std::string::npos) {
      if (on_malformed_) on_malformed_("a cookie reply without a numeric \"cookie\"");
      return;
    }
    stage_ = Stage::request;
    txid_ = next_txid();
    std::string request = auth_request(function_, args_, target_.password, cookie, txid_);
    if (request.size() > kMaxRequestBytes) {
      Reply r;
      r.status = Status::io_error;
      r.error = "the request for " + function_ + " would be longer than cjdroute accepts";
      finish(std::move(r));
      return;
    }
    send(std::move(request));
    return;
  }

  Reply r;
  // Some functions answer "error": "none" on success.
  if (auto error = message->get_string("error"); error && *error != "none") {
    r.status = *error == kAuthFailed ? Status::auth_failed : Status::remote_error;
    r.error = *error;
  }
  r.value = std::move(*message);
  finish(std::move(r));
}

void AdminClient::arm_timer() {
  auto generation = ++generation_;
  timer_.expires_after(timeout_);
  timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
    if (ec || self->closed_ || generation != self->generation_ || self->stage_ == Stage::idle)
      return;
    Reply r;
    r.status = Status::timeout;
    self->finish(std::move(r));
  });
}

void AdminClient::finish(Reply reply) {
  if (closed_ || !done_) return;
  stage_ = Stage::idle;
  ++generation_;  // disarms the timer of the finished exchange
  timer_.cancel();
  auto done = std::move(done_);
  done_ = nullptr;
  done(std::move(reply));
}

}  // namespace mnigs::cjdns
