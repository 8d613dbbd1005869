// The payment page's HTTP/1.1 listener: one request per connection, its head
// at most 8 KiB and its body at most 16 KiB, read within 10 s; at most 64
// connections at once and 8 from one address (connections beyond are closed
// at once). Runs on the executor it is given (the plugin's strand).
#pragma once

#include "page.hpp"

#include <mnigs/log.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mnigs::webpage {

struct Request {
  std::string method, target, host, accept, content_type, origin, body;
  std::string webhook_id, webhook_timestamp, webhook_signature;
  std::string peer;   // the client's address (an IPv4-mapped one unmapped)
  std::string local;  // ours, as it reached us
};

class Server {
 public:
  using Handler = std::function<void(Request, std::function<void(Response)>)>;
  static constexpr std::size_t kMaxConnections = 64;
  static constexpr std::size_t kMaxPerAddress = 8;

  Server(boost::asio::any_io_executor ex, Logger& log, Handler handler);
  ~Server();
  // Listens on each address at `port`; returns the failures as one sentence
  // ("" when every address listens).
  std::string listen(const std::vector<std::string>& addresses, std::uint16_t port);
  void stop();
  std::size_t listening() const { return acceptors_.size(); }

 private:
  class Connection;
  void accept(std::size_t index);

  boost::asio::any_io_executor ex_;
  Logger& log_;
  Handler handler_;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::unique_ptr<boost::asio::steady_timer> backoff_;
  std::shared_ptr<std::size_t> open_ = std::make_shared<std::size_t>(0);
  // Open connections by peer address.
  std::shared_ptr<std::map<std::string, std::size_t>> per_peer_ =
      std::make_shared<std::map<std::string, std::size_t>>();
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace mnigs::webpage
