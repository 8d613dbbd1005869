// The gateway's end of the health probes: answers probe requests (packet.hpp)
// on UDP at the daemon's RPC port, only for session holders, that is from
// the subscriber's mesh address or one of the tunnel addresses its session
// was given. Everyone else gets nothing back and is counted; so are
// malformed datagrams and holders past their rate (kRate per second, bursts
// of kBurst), whose excess is dropped. A reply is as long as its request, so
// nobody can use the service to amplify. Runs on a strand of its own.
#pragma once

#include "log/log.hpp"
#include "os/clock.hpp"

#include <json/value.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mnigs::probe {

class EchoService {
 public:
  static constexpr double kRate = 50;    // answers per second per holder address
  static constexpr double kBurst = 100;  // at most this many at once

  EchoService(boost::asio::io_context& io, os::Clock& clock);
  ~EchoService();

  // Opens a UDP socket on each endpoint (the RPC listeners' addresses and
  // port). Returns the errors of those that could not be opened, "" when
  // all were. Call once, before the loop runs.
  std::string listen(const std::vector<boost::asio::ip::udp::endpoint>& endpoints);
  // Where the sockets listen (the port the kernel chose for port 0).
  std::vector<boost::asio::ip::udp::endpoint> local_endpoints() const;
  // Closes the sockets.
  void stop();

  // Session `id` holds `addresses` from now on; an empty list: it holds
  // nothing any more. Thread-safe.
  void hold(const std::string& id, std::vector<boost::asio::ip::address> addresses);
  // Whether `address` holds a session now; `done` runs on the service's strand.
  void holds(const boost::asio::ip::address& address, std::function<void(bool)> done);
  // Whether replies say the uplink is down (packet.hpp, kUplinkDown). Thread-safe.
  void set_uplink_down(bool down);
  // {"answered": N, "notHolder": N, "malformed": N, "limited": N, "holders": N}
  void status(std::function<void(Json::Value)> done);

 private:
  struct Socket;
  struct Bucket {
    double tokens = kBurst;
    std::chrono::steady_clock::time_point last{};
  };
  void receive(const std::shared_ptr<Socket>& s);
  void on_datagram(Socket& s, std::size_t n);
  bool take_token(const boost::asio::ip::address& from);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  os::Clock& clock_;
  StderrLogger log_{"probe"};
  std::vector<std::shared_ptr<Socket>> sockets_;
  std::map<std::string, std::vector<boost::asio::ip::address>> by_session_;
  std::map<boost::asio::ip::address, int> holders_;  // address -> sessions holding it
  std::map<boost::asio::ip::address, Bucket> buckets_;  // holders only
  bool uplink_down_ = false;
  std::uint64_t answered_ = 0, not_holder_ = 0, malformed_ = 0, limited_ = 0;
  std::chrono::steady_clock::time_point last_log_{};
};

}  // namespace mnigs::probe
