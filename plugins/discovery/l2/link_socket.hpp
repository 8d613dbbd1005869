// One UDP socket per interface for the l2 announcements.
//
// The socket is bound to [group%interface]:port. Linux ties a socket bound to
// a link-local scoped address to that interface (no SO_BINDTODEVICE, so no
// extra privilege), and a socket bound to a group address receives only
// datagrams sent to that group: each socket hears exactly its link's
// announcements, whatever else arrives on the port. SO_REUSEADDR lets
// several listeners (a second daemon, a test) share the group and port.
// Outgoing datagrams leave by this interface, hop limit 1, without a copy
// looped back to this host.
//
// Sends do not wait: the socket is non-blocking and a datagram that does not
// fit the send buffer at once is reported as an error and dropped; the next
// interval sends a fresh one. Receiving runs until close(); it has no timeout
// because it waits for others, not for an answer.
//
// Used on one strand; close() before dropping the last reference.
#pragma once

#include "announcement.hpp"
#include "link_interfaces.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace mnigs::l2 {

class LinkSocket : public std::enable_shared_from_this<LinkSocket> {
 public:
  using udp = boost::asio::ip::udp;
  // A datagram arrived; `from` is the sender's address (link-local, with zone).
  using OnDatagram = std::function<void(std::string_view datagram, const udp::endpoint& from)>;
  // Receiving failed for another reason than close(); the socket is closed.
  using OnError = std::function<void(const boost::system::error_code& ec)>;

  // Opens, binds and joins the group on `iface`; nullptr with `why` ("bind
  // [ff02::ed6e:6967%eth0]:65532: Address already in use").
  static std::shared_ptr<LinkSocket> open(const boost::asio::any_io_executor& executor,
                                          const LinkInterface& iface,
                                          const boost::asio::ip::address_v6& group,
                                          std::uint16_t port, std::string* why);

  // Starts receiving; the handlers run on the executor given to open().
  void start(OnDatagram on_datagram, OnError on_error);
  // Sends one datagram to the group now; the error if it did not go out.
  boost::system::error_code send(std::string_view datagram);
  // Stops receiving and closes; no handler is called afterwards. Idempotent.
  void close();

  const std::string& name() const { return name_; }
  unsigned index() const { return index_; }
  bool is_open() const { return socket_.is_open(); }

  LinkSocket(const boost::asio::any_io_executor& executor, std::string name, unsigned index,
             udp::endpoint group);

 private:
  void do_receive();
  void on_receive(const boost::system::error_code& ec, std::size_t n);

  udp::socket socket_;
  std::string name_;
  unsigned index_;
  udp::endpoint group_;  // [group%index]:port, where announcements go
  udp::endpoint from_;
  // One byte more than a valid datagram, so an oversized one shows as such
  // instead of being cut to a valid length.
  std::array<char, kMaxDatagram + 1> buffer_{};
  OnDatagram on_datagram_;
  OnError on_error_;
};

}  // namespace mnigs::l2
