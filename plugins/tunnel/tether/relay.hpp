// The laptop's data plane: the page's WebSocket (one at a time) and the tun
// device, on the data thread. A packet read from the device goes to the page
// as one binary message (its virtio-net header first, as the websocket
// tunnel's wire form has it); a binary message from the page is written to
// the device once its header is checked. The page's text messages go to
// the controller (controller.hpp).
//
// Threading: the data thread; every member is called there. The counters
// may be read from any thread.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "dataplane.hpp"
#include "link.hpp"

namespace mnigs {
class Logger;
}

namespace mnigs::tether {

// The close code a page gets when another page takes the tether over.
inline constexpr std::uint16_t close_replaced = 4001;

class Relay : public std::enable_shared_from_this<Relay> {
 public:
  // `page`: which page a callback is about (attach_page's number).
  using OnText = std::function<void(std::uint64_t page, std::string text)>;
  using OnClosed = std::function<void(std::uint64_t page, std::string reason)>;

  Relay(boost::asio::io_context& io, websocket::Link::Options options, Logger& log);

  // The page's link, after its upgrade: `pending` is what came after the
  // request. Replaces the page attached before (closed with
  // close_replaced). `on_attached(page)` runs first, before anything the
  // page sent is handled.
  void attach_page(boost::asio::ip::tcp::socket socket, std::string pending,
                   std::function<void(std::uint64_t page)> on_attached, OnText on_text,
                   OnClosed on_closed);
  // For the pages attached from now on (keepalive, timeout, maxQueue).
  void set_options(websocket::Link::Options options);
  void send_text(std::uint64_t page, const std::string& text);
  void close_page(std::uint16_t code, const std::string& reason);

  void attach_tun(websocket::TunDevice device);
  // Closes the device (its addresses and routes go with it).
  void detach_tun();
  void stop();

  // Packets and bytes each way (binary messages only), and what was
  // dropped: for want of a page or a device, or refused by the device.
  const websocket::LinkCounters& page_counters() const { return counters_; }
  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t tun_refused() const { return tun_refused_; }

 private:
  boost::asio::io_context& io_;
  websocket::Link::Options options_;
  Logger& log_;
  std::shared_ptr<websocket::FramePool> pool_;
  std::shared_ptr<websocket::Link> link_;
  std::uint64_t page_ = 0;  // the attached page's number
  std::shared_ptr<websocket::TunPort> tun_;
  websocket::LinkCounters counters_;
  std::atomic<std::uint64_t> dropped_{0}, tun_refused_{0};
};

}  // namespace mnigs::tether
