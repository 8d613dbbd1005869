#include "link_socket.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/socket_base.hpp>

namespace mnigs::l2 {

namespace asio = boost::asio;

LinkSocket::LinkSocket(const asio::any_io_executor& executor, std::string name, unsigned index,
                       udp::endpoint group)
    : socket_(executor), name_(std::move(name)), index_(index), group_(std::move(group)) {}

std::shared_ptr<LinkSocket> LinkSocket::open(const asio::any_io_executor& executor,
                                             const LinkInterface& iface,
                                             const asio::ip::address_v6& group, std::uint16_t port,
                                             std::string* why) {
  const udp::endpoint target(asio::ip::address_v6(group.to_bytes(), iface.index), port);
  auto s = std::make_shared<LinkSocket>(executor, iface.name, iface.index, target);
  const std::string where =
      "[" + group.to_string() + "%" + iface.name + "]:" + std::to_string(port);
  boost::system::error_code ec;
  auto step = [&](const char* what) {
    if (!ec) return true;
    if (why) *why = std::string(what) + " " + where + ": " + ec.message();
    s->socket_.close(ec);
    return false;
  };
  s->socket_.open(udp::v6(), ec);
  if (!step("open socket for")) return nullptr;
  s->socket_.set_option(asio::ip::v6_only(true), ec);
  if (!step("set IPV6_V6ONLY for")) return nullptr;
  s->socket_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!step("set SO_REUSEADDR for")) return nullptr;
  s->socket_.bind(target, ec);
  if (!step("bind")) return nullptr;
  s->socket_.set_option(asio::ip::multicast::join_group(group, iface.index), ec);
  if (!step("join")) return nullptr;
  s->socket_.set_option(asio::ip::multicast::outbound_interface(iface.index), ec);
  if (!step("set the outbound interface for")) return nullptr;
  // A host does not need to hear itself; its node id filters what still
  // comes back (a second port on the same segment).
  s->socket_.set_option(asio::ip::multicast::enable_loopback(false), ec);
  if (!step("turn multicast loop off for")) return nullptr;
  // Link-local: never beyond this link, whatever a router thinks.
  s->socket_.set_option(asio::ip::multicast::hops(1), ec);
  if (!step("set hop limit 1 for")) return nullptr;
  s->socket_.non_blocking(true, ec);
  if (!step("make non-blocking")) return nullptr;
  return s;
}

void LinkSocket::start(OnDatagram on_datagram, OnError on_error) {
  on_datagram_ = std::move(on_datagram);
  on_error_ = std::move(on_error);
  do_receive();
}

void LinkSocket::do_receive() {
  socket_.async_receive_from(
      asio::buffer(buffer_), from_,
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        self->on_receive(ec, n);
      });
}

void LinkSocket::on_receive(const boost::system::error_code& ec, std::size_t n) {
  if (!socket_.is_open() || ec == asio::error::operation_aborted) return;
  if (ec) {
    auto on_error = on_error_;
    close();
    if (on_error) on_error(ec);
    return;
  }
  // Copies: the handler may close this socket, which drops the handler and
  // lets the next receive reuse the buffer.
  std::string datagram(buffer_.data(), n);
  udp::endpoint from = from_;
  auto handler = on_datagram_;
  do_receive();
  if (handler) handler(datagram, from);
}

boost::system::error_code LinkSocket::send(std::string_view datagram) {
  boost::system::error_code ec;
  if (!socket_.is_open()) return asio::error::bad_descriptor;
  socket_.send_to(asio::buffer(datagram.data(), datagram.size()), group_, 0, ec);
  return ec;
}

void LinkSocket::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
  // The handlers may hold their owner; drop them so nothing outlives it.
  on_datagram_ = nullptr;
  on_error_ = nullptr;
}

}  // namespace mnigs::l2
