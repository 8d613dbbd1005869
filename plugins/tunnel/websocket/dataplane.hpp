// Where the websocket tunnel's packets move: a thread of its own
// (tunnels::DataThread, plugins/common/data_thread.hpp). The plugin's
// strand posts there to set things up and tear them down; links and tun
// devices live there.
//
// TunPort is a tun device on that thread: it reads until the device would
// block (a batch), hands each packet over in a frame buffer ready to be
// sent, and writes packets received from peers after checking their
// virtio-net header.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "data_thread.hpp"
#include "link.hpp"
#include "tun.hpp"

namespace mnigs {
class Logger;
}

namespace mnigs::websocket {

using DataPlane = tunnels::DataThread;

// Counters of a tun device, readable from any thread.
struct TunCounters {
  std::atomic<std::uint64_t> rx_packets{0}, rx_bytes{0};  // read from the device
  std::atomic<std::uint64_t> tx_packets{0}, tx_bytes{0};  // written to it
  std::atomic<std::uint64_t> tx_dropped{0};               // the device refused (queue full)
  std::atomic<std::uint64_t> bad_header{0};               // virtio-net header refused (check_vnet)
};

class TunPort : public std::enable_shared_from_this<TunPort> {
 public:
  // A packet read from the device: the payload of `frame` holds the wire
  // form (virtio-net header, little-endian, then the IP packet or Ethernet
  // frame), `size` bytes.
  using OnPacket = std::function<void(OutFrame frame, std::size_t size)>;
  // After each batch of reads: time to flush the links written to.
  using OnBatch = std::function<void()>;

  // Takes the device; runs on `io` (the data thread). Packets are read into
  // frames from `pool`, whose payload capacity must be max_tun_read.
  TunPort(boost::asio::io_context& io, TunDevice device, std::shared_ptr<FramePool> pool,
          Logger& log);

  void start(OnPacket on_packet, OnBatch on_batch);
  void stop();

  // Writes one message received from a peer (wire form, as above); false
  // (counted) when its header is refused or the device does not take it.
  // The bytes are changed in place (header to host order).
  bool write(std::span<std::uint8_t> message);
  // Writes a message that is a bare Ethernet frame (the vpn-ws wire form)
  // behind an all-zero header; false (counted) when the device refuses it.
  bool write_plain(std::span<const std::uint8_t> frame);

  const TunCounters& counters() const { return counters_; }
  const std::string& name() const { return name_; }

 private:
  void do_wait();
  void on_readable();

  boost::asio::posix::stream_descriptor fd_;
  std::string name_;
  Logger& log_;
  OnPacket on_packet_;
  OnBatch on_batch_;
  std::shared_ptr<FramePool> pool_;
  TunCounters counters_;
  bool stopped_ = false;
};

}  // namespace mnigs::websocket
