#include "server.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <iostream>

namespace olsrd_peer {

namespace asio = boost::asio;
using asio::ip::tcp;
using Socket = std::shared_ptr<tcp::socket>;

namespace {

// olsrd waits request_timeout (20 ms by default) for the request; the peer
// is more patient, so a slow test machine does not see 408s.
constexpr auto kRequestWait = std::chrono::seconds(2);
// OONF's telnet session timeout.
constexpr auto kTelnetIdle = std::chrono::seconds(120);
// How long a "silent" peer keeps a connection it never answers.
constexpr auto kSilentHold = std::chrono::seconds(60);

void close(const Socket& s) {
  boost::system::error_code ignored;
  s->shutdown(tcp::socket::shutdown_both, ignored);
  s->close(ignored);
}

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200)) {
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      out += '?';
    else
      out += c;
  }
  return out;
}

// One olsrd2 telnet session: read, hand to TelnetSession, write, repeat
// until the session says to close or the peer goes away.
class TelnetConnection : public std::enable_shared_from_this<TelnetConnection> {
 public:
  TelnetConnection(asio::io_context& io, Socket socket, const Network& net, const Options& options,
                   std::string name)
      : socket_(std::move(socket)), telnet_(net, options), idle_(io), name_(std::move(name)) {}

  void do_read() {
    idle_.expires_after(kTelnetIdle);
    idle_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) close(self->socket_);
    });
    socket_->async_read_some(asio::buffer(buffer_),
                             [self = shared_from_this()](boost::system::error_code ec,
                                                         std::size_t n) { self->on_read(ec, n); });
  }

 private:
  void on_read(boost::system::error_code ec, std::size_t n) {
    idle_.cancel();
    if (ec) return close(socket_);
    std::string_view in(buffer_.data(), n);
    std::cout << name_ << ": input \"" << printable(in) << "\"" << std::endl;
    out_ = telnet_.feed(in);
    asio::async_write(*socket_, asio::buffer(out_.text),
                      [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                        if (ec || self->out_.close) return close(self->socket_);
                        self->do_read();
                      });
  }

  Socket socket_;
  TelnetSession telnet_;
  asio::steady_timer idle_;
  std::string name_;
  std::string buffer_ = std::string(4096, '\0');
  TelnetSession::Output out_;
};

}  // namespace

Listener::Listener(asio::io_context& io, Kind kind, tcp::endpoint endpoint, const Network& net,
                   const Options& options)
    : io_(io), kind_(kind), acceptor_(io), net_(net), options_(options) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
}

std::string Listener::name() const {
  switch (kind_) {
    case Kind::jsoninfo:
      return "jsoninfo";
    case Kind::txtinfo:
      return "txtinfo";
    case Kind::olsrd2:
      return "olsrd2 telnet";
  }
  return "?";
}

void Listener::start() { accept(); }

void Listener::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      auto socket = std::make_shared<tcp::socket>(std::move(s));
      if (options_.fault == Fault::silent)
        hold(socket);
      else if (kind_ == Kind::olsrd2)
        serve_telnet(socket);
      else
        serve_info(socket);
    }
    accept();
  });
}

void Listener::hold(Socket socket) {
  std::cout << name() << ": connection held without an answer" << std::endl;
  auto timer = std::make_shared<asio::steady_timer>(io_, kSilentHold);
  timer->async_wait([socket, timer](boost::system::error_code) { close(socket); });
}

// lib/info/olsrd_info.c: one recv of at most 1024 bytes is the request.
void Listener::serve_info(Socket socket) {
  auto buffer = std::make_shared<std::string>(1024, '\0');
  auto timer = std::make_shared<asio::steady_timer>(io_, kRequestWait);
  auto answered = std::make_shared<bool>(false);
  auto answer = [this, socket, buffer, timer, answered](std::size_t n, bool timed_out) {
    if (*answered) return;
    *answered = true;
    timer->cancel();
    Info which = kind_ == Kind::jsoninfo ? Info::jsoninfo : Info::txtinfo;
    auto reply = std::make_shared<std::string>(
        info_reply(which, std::string_view(*buffer).substr(0, n), timed_out, net_, options_));
    std::cout << name() << ": request \"" << printable(std::string_view(*buffer).substr(0, n))
              << "\" -> " << reply->size() << " bytes" << std::endl;
    asio::async_write(*socket, asio::buffer(*reply),
                      [socket, reply](boost::system::error_code, std::size_t) { close(socket); });
  };
  timer->async_wait([answer](boost::system::error_code ec) {
    if (!ec) answer(0, true);
  });
  socket->async_read_some(asio::buffer(*buffer),
                          [answer, socket](boost::system::error_code ec, std::size_t n) {
                            if (ec == asio::error::operation_aborted) return;
                            answer(ec ? 0 : n, false);
                          });
}

void Listener::serve_telnet(Socket socket) {
  std::make_shared<TelnetConnection>(io_, socket, net_, options_, name())->do_read();
}

}  // namespace olsrd_peer
