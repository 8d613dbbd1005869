// The sockets of the test olsrd: an info plugin listener (jsoninfo or
// txtinfo: one request, one reply, close) and an olsrd2 telnet listener
// (line-based sessions). Single-threaded, on one io_context.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "daemon.hpp"

namespace olsrd_peer {

class Listener {
 public:
  enum class Kind { jsoninfo, txtinfo, olsrd2 };

  // Binds `endpoint` (throws boost::system::system_error when it cannot).
  Listener(boost::asio::io_context& io, Kind kind, boost::asio::ip::tcp::endpoint endpoint,
           const Network& net, const Options& options);

  // Starts accepting connections.
  void start();
  std::string name() const;
  boost::asio::ip::tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void accept();
  void serve_info(std::shared_ptr<boost::asio::ip::tcp::socket> socket);
  void serve_telnet(std::shared_ptr<boost::asio::ip::tcp::socket> socket);
  void hold(std::shared_ptr<boost::asio::ip::tcp::socket> socket);

  boost::asio::io_context& io_;
  Kind kind_;
  boost::asio::ip::tcp::acceptor acceptor_;
  const Network& net_;
  Options options_;
};

}  // namespace olsrd_peer
