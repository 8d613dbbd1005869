// For the babel plugin's unit tests: transcripts captured from babeld 1.12.1
// (testdata/, see its README) and a fake babeld serving them on a loopback
// TCP port or a unix socket, on the test's io_context.
#pragma once

#include <netinet/in.h>
#include <unistd.h>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <istream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace mnigs::babel::testing {

// A captured session: the greeting (up to its "ok"), then the lines of the
// dump (up to its "ok"), then whatever babeld sent later (monitor lines).
struct Transcript {
  std::vector<std::string> greeting, dump, after;
};

inline std::vector<std::string> read_lines(const std::string& name) {
  std::ifstream in(std::string(MNIGS_BABEL_TESTDATA) + "/" + name);
  if (!in) throw std::runtime_error("cannot read testdata/" + name);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline Transcript load(const std::string& name) {
  Transcript t;
  int oks = 0;
  for (auto& line : read_lines(name)) {
    auto& part = oks == 0 ? t.greeting : oks == 1 ? t.dump : t.after;
    if (line == "ok" && oks < 2) {
      if (oks++ == 0) t.greeting.push_back(line);
      continue;
    }
    part.push_back(line);
  }
  return t;
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// A babeld stand-in: greets each client, answers "monitor" with `dump` and
// "ok", answers an empty line with "ok", and records what it was sent.
// One client at a time; single-threaded, on the io_context given.
class FakeBabeld {
 public:
  using Protocol = boost::asio::generic::stream_protocol;

  // TCP on 127.0.0.1, a port the kernel picks.
  explicit FakeBabeld(boost::asio::io_context& io) : io_(io), acceptor_(io) {
    endpoint_ = boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
    listen();
    // Later restarts reuse the port picked now.
    auto bound = acceptor_.local_endpoint();
    port_ = ntohs(reinterpret_cast<const sockaddr_in*>(bound.data())->sin_port);
    endpoint_ = boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_);
  }
  // A unix socket at `path`.
  FakeBabeld(boost::asio::io_context& io, const std::string& path)
      : io_(io), acceptor_(io), path_(path) {
    ::unlink(path.c_str());
    endpoint_ = boost::asio::local::stream_protocol::endpoint(path);
    listen();
  }
  ~FakeBabeld() {
    stop();
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  std::uint16_t port() const { return port_; }

  // What the next clients get.
  std::string greeting =
      "BABEL 1.0\nversion babeld-1.12.1\nhost vm\nmy-id dc:ee:12:bc:f9:5f:03:a8\nok\n";
  std::vector<std::string> dump;
  bool finish_dump = true;       // false: never send the "ok" after the dump
  bool answer_keepalive = true;  // false: ignore empty requests, as a stopped babeld

  std::vector<std::string> received;  // lines from the clients
  int accepted = 0;

  bool has_client() const { return client_ && client_->is_open(); }
  // Sends raw bytes to the current client.
  void send(const std::string& bytes) {
    if (!has_client()) throw std::runtime_error("fake babeld: no client");
    // The client may have gone already; that is its business.
    boost::system::error_code ignored;
    boost::asio::write(*client_, boost::asio::buffer(bytes), ignored);
  }
  // Closes the current client's connection, as a babeld that exits.
  void drop() {
    if (client_) {
      boost::system::error_code ignored;
      client_->close(ignored);
    }
    client_.reset();
  }
  // Stops listening and drops the client: babeld is gone.
  void stop() {
    drop();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }
  // Listens again on the same port or path: babeld is back.
  void restart() {
    stop();
    if (!path_.empty()) ::unlink(path_.c_str());
    listen();
  }

 private:
  void listen() {
    acceptor_.open(endpoint_.protocol());
    if (path_.empty()) acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint_);
    acceptor_.listen();
    accept();
  }

  void accept() {
    acceptor_.async_accept([this](const boost::system::error_code& ec, Protocol::socket s) {
      if (ec) return;
      ++accepted;
      drop();
      client_ = std::make_shared<Protocol::socket>(std::move(s));
      if (!greeting.empty()) send(greeting);
      read(client_, std::make_shared<boost::asio::streambuf>());
      accept();
    });
  }

  void read(std::shared_ptr<Protocol::socket> s, std::shared_ptr<boost::asio::streambuf> buf) {
    boost::asio::async_read_until(*s, *buf, '\n',
                                  [this, s, buf](const boost::system::error_code& ec, std::size_t) {
                                    if (ec || s != client_) return;
                                    std::istream in(buf.get());
                                    std::string line;
                                    std::getline(in, line);
                                    received.push_back(line);
                                    if (line == "monitor")
                                      send(joined(dump) + (finish_dump ? "ok\n" : ""));
                                    else if (line.empty() && answer_keepalive)
                                      send("ok\n");
                                    read(s, buf);
                                  });
  }

  boost::asio::io_context& io_;
  boost::asio::basic_socket_acceptor<Protocol> acceptor_;
  Protocol::endpoint endpoint_;
  std::string path_;
  std::uint16_t port_ = 0;
  std::shared_ptr<Protocol::socket> client_;
};

}  // namespace mnigs::babel::testing
