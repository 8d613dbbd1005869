// One short TCP exchange with a local daemon: connect, send a request, read
// the reply until the daemon closes the connection (or the reply is known to
// be whole), all within one deadline and a size bound. Everything runs on
// the executor given (the plugin's strand).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mnigs::olsr {

// "127.0.0.1:9090" or "[::1]:2009" (IP literals only); nullopt with `why`
// set otherwise.
std::optional<boost::asio::ip::tcp::endpoint> parse_endpoint(std::string_view text,
                                                             std::string* why);
// The endpoint as parse_endpoint reads it.
std::string endpoint_text(const boost::asio::ip::tcp::endpoint& endpoint);

struct ExchangeResult {
  std::string reply;  // what arrived (possibly partial when error is set)
  std::string error;  // "" when the reply is whole, else a sentence
};

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  // Returns the size of the whole reply once `data` holds all of it, for
  // servers that may keep the connection open; nullopt: read until close.
  using Complete = std::function<std::optional<std::size_t>(std::string_view data)>;
  using Done = std::function<void(ExchangeResult)>;

  struct Limits {
    std::chrono::milliseconds timeout{1500};  // for the whole exchange
    std::size_t max_bytes = 4u << 20;         // replies larger than this fail
  };

  // Starts the exchange; `done` is called once, on `executor`, unless
  // cancel() comes first.
  static std::shared_ptr<Exchange> start(boost::asio::any_io_executor executor,
                                         boost::asio::ip::tcp::endpoint endpoint,
                                         std::string request, Limits limits, Complete complete,
                                         Done done);

  // Stops the exchange without calling `done` (the plugin is stopping).
  // Call on the executor.
  void cancel();

  Exchange(boost::asio::any_io_executor executor, boost::asio::ip::tcp::endpoint endpoint,
           std::string request, Limits limits, Complete complete, Done done);

 private:
  void do_connect();
  void on_connect(const boost::system::error_code& ec);
  void on_write(const boost::system::error_code& ec);
  void do_read();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void on_deadline(const boost::system::error_code& ec);
  void finish(std::string error);

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer deadline_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::string request_;
  Limits limits_;
  Complete complete_;
  Done done_;
  std::string reply_;
  std::string buffer_;
  bool connected_ = false;
  bool finished_ = false;
};

}  // namespace mnigs::olsr
