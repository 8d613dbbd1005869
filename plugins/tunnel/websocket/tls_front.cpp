#include "tls_front.hpp"

#include <poll.h>

#include <array>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mnigs/log.hpp>

#include "handshake.hpp"
#include "util/net.hpp"

namespace mnigs::websocket {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Status = tls::Session::Status;

namespace {

std::string unmapped(const net::ip::address& a) { return unmap(a).to_string(); }

}  // namespace

TlsFront::TlsFront(net::io_context& io, std::shared_ptr<tls::Context> context, Logger& log)
    : io_(io), context_(std::move(context)), log_(log), acceptor_(io), retry_(io) {}

void TlsFront::start(std::uint16_t port, OnRequest on_request) {
  on_request_ = std::move(on_request);
  boost::system::error_code ec;
  acceptor_.open(tcp::v6(), ec);
  if (!ec) {
    acceptor_.set_option(net::ip::v6_only(false), ec);
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor_.bind({tcp::v6(), port}, ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
    }
  }
  if (!acceptor_.is_open()) {
    // No IPv6 on this host (or it cannot be bound): IPv4 alone.
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind({tcp::v4(), port});
  }
  acceptor_.listen(net::socket_base::max_listen_connections);
  do_accept();
}

std::uint16_t TlsFront::port() const {
  boost::system::error_code ec;
  const auto local = acceptor_.local_endpoint(ec);
  return ec ? 0 : local.port();
}

void TlsFront::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_.cancel();
}

void TlsFront::do_accept() {
  acceptor_.async_accept([self = shared_from_this()](boost::system::error_code ec,
                                                     tcp::socket socket) {
    if (self->stopped_ || ec == net::error::operation_aborted) return;
    if (!ec) return self->on_connection(std::move(socket)), self->do_accept();
    // Out of descriptors (EMFILE) and the like: try again a little later
    // rather than spin.
    self->retry_.expires_after(std::chrono::milliseconds(100));
    self->retry_.async_wait([self](boost::system::error_code e) {
      if (!e && !self->stopped_) self->do_accept();
    });
  });
}

void TlsFront::note(const std::string& line) {
  std::uint64_t held = 0;
  if (!log_limit_.allow(std::chrono::steady_clock::now(), &held)) return;
  log_.info("wss: ", line,
            held ? " (" + std::to_string(held) + " more such lines left out)" : std::string());
}

void TlsFront::on_connection(tcp::socket socket) {
  ++counters_.accepted;
  boost::system::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const std::string who = ec ? "?" : unmapped(remote.address());
  if (pending_ >= kMaxPending) {
    ++counters_.busy;
    note("closed a connection from " + who + ": " + std::to_string(kMaxPending) +
         " are in their handshake already");
    return;  // the socket closes here
  }
  // One neighbour cannot take every place: it would lock every subscriber
  // that holds the key out (they take no plain ws then).
  if (pending_from_[who] >= kMaxPendingPerSource) {
    ++counters_.busy;
    note("closed a connection from " + who + ": it has " +
         std::to_string(kMaxPendingPerSource) + " in their handshake already");
    return;
  }
  socket.non_blocking(true, ec);
  if (ec) return;
  auto conn = std::make_shared<Conn>(std::move(socket));
  try {
    conn->session = std::make_shared<tls::Session>(context_, conn->socket.native_handle(), true);
  } catch (const std::exception& e) {
    ++counters_.handshakes_failed;
    return note(e.what());
  }
  ++pending_;
  ++pending_from_[who];
  auto timer = std::make_shared<net::steady_timer>(io_);
  auto expired = std::make_shared<bool>(false);
  timer->expires_after(kRequestDeadline);
  timer->async_wait([conn, expired](boost::system::error_code e) {
    if (e) return;
    *expired = true;
    boost::system::error_code ignored;
    conn->socket.close(ignored);  // the wait below fails
  });
  auto session = conn->session;
  tls::drive(conn->socket, [session] { return session->handshake(); },
             [self = shared_from_this(), conn, timer, expired, who](Status st) {
               if (st == Status::ok) return self->read_request(conn, timer, expired, who);
               self->done_pending(timer, who);
               if (*expired) {
                 ++self->counters_.timed_out;
                 return self->note("no TLS handshake from " + who + " within " +
                                   std::to_string(kRequestDeadline.count()) + " s");
               }
               ++self->counters_.handshakes_failed;
               self->note("TLS handshake with " + who + " failed: " +
                          (conn->session->error().empty() ? "the connection closed"
                                                          : conn->session->error()));
             });
}

void TlsFront::read_request(std::shared_ptr<Conn> conn, std::shared_ptr<net::steady_timer> timer,
                            std::shared_ptr<bool> expired, const std::string& source) {
  auto data = std::make_shared<std::string>();
  auto step = [conn, data]() {
    for (;;) {
      RequestHead head = parse_request(*data);
      if (head.ok || head.status != 0) return Status::ok;
      std::array<std::uint8_t, 4096> chunk;
      std::size_t n = 0;
      const Status st = conn->session->read(chunk, n);
      if (st != Status::ok) return st;
      data->append(reinterpret_cast<const char*>(chunk.data()), n);
    }
  };
  tls::drive(conn->socket, step, [self = shared_from_this(), conn, timer, expired, data,
                                  source](Status st) {
    self->done_pending(timer, source);
    boost::system::error_code ec;
    const auto remote = conn->socket.remote_endpoint(ec);
    const std::string who = ec ? "?" : unmapped(remote.address());
    if (st != Status::ok) {
      // Closed by the deadline, by the peer, or a TLS failure.
      ++(*expired ? self->counters_.timed_out : self->counters_.bad_requests);
      return self->note("no whole upgrade request from " + who + " over TLS" +
                        (*expired ? " within " + std::to_string(kRequestDeadline.count()) + " s"
                         : conn->session->error().empty() ? ""
                                                          : ": " + conn->session->error()));
    }
    RequestHead head = parse_request(*data);
    if (!head.ok) {
      ++self->counters_.bad_requests;
      self->note("a bad request from " + who + ": " + head.error);
      // Not waited for: this is the data plane's thread.
      send_all(*conn->session, conn->socket.native_handle(),
               response_error(head.status, head.error), 0);
      return;  // closed with conn
    }
    HttpUpgrade request;
    request.method = std::move(head.method);
    request.target = std::move(head.target);
    request.headers.assign(head.headers.begin(), head.headers.end());
    request.remote_address = who;
    request.remote_port = ec ? 0 : remote.port();
    const auto local = conn->socket.local_endpoint(ec);
    request.local_address = ec ? "" : unmapped(local.address());
    request.pending = data->substr(head.consumed);
    request.fd = conn->socket.release(ec);
    if (ec) return;
    self->on_request_(std::move(request), conn->session);
  });
}

void TlsFront::done_pending(const std::shared_ptr<net::steady_timer>& timer,
                            const std::string& source) {
  timer->cancel();
  --pending_;
  if (auto it = pending_from_.find(source); it != pending_from_.end() && --it->second == 0)
    pending_from_.erase(it);
}

bool send_all(tls::Session& session, int fd, const std::string& text, int polls) {
  std::size_t sent = 0;
  for (int round = 0; round <= polls && sent < text.size(); ++round) {
    std::size_t n = 0;
    const Status st = session.write(
        {reinterpret_cast<const std::uint8_t*>(text.data()) + sent, text.size() - sent}, n);
    sent += n;
    if (st == Status::ok) continue;
    if (st != Status::want_read && st != Status::want_write) return false;
    if (round == polls) break;
    pollfd p{fd, static_cast<short>(st == Status::want_read ? POLLIN : POLLOUT), 0};
    ::poll(&p, 1, 10);
  }
  return sent == text.size();
}

}  // namespace mnigs::websocket
