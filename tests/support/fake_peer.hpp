// A JSON-RPC peer for unit tests: an HTTP server on a loopback address, on
// its own thread, that records each request and answers as the test says
// (whole, byte by byte, or not at all), and helpers to write those answers.
//
//   mnigs::testing::FakePeer peer("127.0.0.1", [](const auto&) {
//     return mnigs::testing::Answer{http_reply(200, result_body(true))};
//   });
//   call_rpc(executor, "127.0.0.1", peer.port(), ...);
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <json/value.h>
#include <json/writer.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mnigs::testing {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

// A raw HTTP response: status line, `headers` (each ending in CRLF), body.
inline std::string http_reply(int status, const std::string& body,
                              const std::string& headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n" + headers + "\r\n" + body;
}

inline std::string result_body(const Json::Value& result) {
  Json::Value v(Json::objectValue);
  v["jsonrpc"] = "2.0";
  v["id"] = 1;
  v["result"] = result;
  return Json::writeString(Json::StreamWriterBuilder(), v);
}

// A JSON-RPC error with `code` and `message`.
inline std::string error_body(int code, const std::string& message) {
  Json::Value v(Json::objectValue);
  v["jsonrpc"] = "2.0";
  v["id"] = 1;
  v["error"]["code"] = code;
  v["error"]["message"] = message;
  return Json::writeString(Json::StreamWriterBuilder(), v);
}

// What the peer does with a request it has read.
struct Answer {
  std::string bytes;                    // written as they are; nothing = say nothing
  std::chrono::milliseconds pace{0};    // > 0: one byte at a time, this far apart
  bool close_after = true;              // hang up once written
};

// An HTTP server on a loopback address, on its own thread: it reads each
// request whole, records it, and answers as `answer` says.
class FakePeer {
  using tcp = boost::asio::ip::tcp;

 public:
  FakePeer(const std::string& address, std::function<Answer(const Request&)> answer)
      : answer_(std::move(answer)), acceptor_(io_) {
    tcp::endpoint ep(boost::asio::ip::make_address(address), 0);
    boost::system::error_code ec;
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) {
      error_ = ec.message();
      return;
    }
    port_ = acceptor_.local_endpoint().port();
    do_accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakePeer() {
    boost::asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      for (auto& c : conns_) c->socket.close(ignored);
      conns_.clear();
    });
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }

  // Empty when listening; otherwise why not.
  const std::string& error() const { return error_; }
  std::uint16_t port() const { return port_; }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  struct Conn {
    explicit Conn(boost::asio::io_context& io) : socket(io), timer(io) {}
    tcp::socket socket;
    boost::asio::steady_timer timer;
    boost::beast::flat_buffer buffer;
    Request request;
    Answer answer;
    std::size_t sent = 0;
  };

  void do_accept() {
    auto c = std::make_shared<Conn>(io_);
    acceptor_.async_accept(c->socket, [this, c](boost::system::error_code ec) {
      if (ec) return;
      conns_.push_back(c);
      boost::beast::http::async_read(c->socket, c->buffer, c->request,
                       [this, c](boost::system::error_code ec, std::size_t) { on_read(c, ec); });
      do_accept();
    });
  }
  void on_read(const std::shared_ptr<Conn>& c, boost::system::error_code ec) {
    if (ec) return;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(c->request);
    }
    c->answer = answer_(c->request);
    write_some(c);
  }
  void write_some(const std::shared_ptr<Conn>& c) {
    const std::string& out = c->answer.bytes;
    if (c->sent == out.size()) {
      if (c->answer.close_after && !out.empty()) {
        boost::system::error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_both, ignored);
        c->socket.close(ignored);
      }
      return;  // otherwise held open, silent, until the peer goes
    }
    std::size_t n = c->answer.pace.count() > 0 ? 1 : out.size() - c->sent;
    boost::asio::async_write(c->socket, boost::asio::buffer(out.data() + c->sent, n),
                     [this, c](boost::system::error_code ec, std::size_t written) {
                       if (ec) return;  // the client hung up: fine
                       c->sent += written;
                       if (c->answer.pace.count() == 0) return write_some(c);
                       c->timer.expires_after(c->answer.pace);
                       c->timer.async_wait([this, c](boost::system::error_code ec) {
                         if (!ec) write_some(c);
                       });
                     });
  }

  std::function<Answer(const Request&)> answer_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      io_.get_executor()};
  tcp::acceptor acceptor_;
  std::vector<std::shared_ptr<Conn>> conns_;  // on io_'s thread only
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
  std::uint16_t port_ = 0;
  std::string error_;
  std::thread thread_;
};

}  // namespace mnigs::testing
