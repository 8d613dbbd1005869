#include "dataplane.hpp"

#include "log_limit.hpp"
#include "util/guarded_loop.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <mnigs/log.hpp>

namespace mnigs::websocket {

namespace net = boost::asio;

namespace {
// Packets read per readiness event: a batch large enough that the links
// write each batch with few writev calls, small enough that the thread
// turns to the sockets often.
constexpr int kReadsPerWake = 64;
}  // namespace

TunPort::TunPort(net::io_context& io, TunDevice device, std::shared_ptr<FramePool> pool,
                 Logger& log)
    : fd_(io), name_(device.name()), log_(log), pool_(std::move(pool)) {
  fd_.assign(device.release());
}

void TunPort::start(OnPacket on_packet, OnBatch on_batch) {
  on_packet_ = std::move(on_packet);
  on_batch_ = std::move(on_batch);
  do_wait();
}

void TunPort::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  fd_.close(ec);
  on_packet_ = nullptr;
  on_batch_ = nullptr;
}

void TunPort::do_wait() {
  fd_.async_wait(net::posix::descriptor_base::wait_read,
                 [self = shared_from_this()](boost::system::error_code ec) {
                   if (self->stopped_) return;
                   if (ec) {
                     self->log_.warn("tun ", self->name_, ": ", ec.message());
                     return;
                   }
                   self->on_readable();
                 });
}

void TunPort::on_readable() {
  for (int i = 0; i < kReadsPerWake && !stopped_; ++i) {
    OutFrame frame = pool_->take();
    ssize_t n = ::read(fd_.native_handle(), frame.payload(), max_tun_read);
    if (n < 0) {
      pool_->give(std::move(frame));
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      log_.warn("tun ", name_, ": read: ", std::strerror(errno));
      return;
    }
    if (static_cast<std::size_t>(n) <= vnet_header_size) {
      pool_->give(std::move(frame));
      continue;
    }
    ++counters_.rx_packets;
    counters_.rx_bytes += static_cast<std::uint64_t>(n) - vnet_header_size;
    vnet_host_to_wire(frame.payload());
    if (on_packet_) on_packet_(std::move(frame), static_cast<std::size_t>(n));
  }
  if (stopped_) return;
  if (on_batch_) on_batch_();
  do_wait();
}

bool TunPort::write(std::span<std::uint8_t> message) {
  if (message.size() <= vnet_header_size) {
    ++counters_.bad_header;
    return false;
  }
  auto header = read_vnet_wire(message.data());
  if (!check_vnet(header, message.size() - vnet_header_size).empty()) {
    ++counters_.bad_header;
    return false;
  }
  vnet_wire_to_host(message.data());
  for (;;) {
    ssize_t n = ::write(fd_.native_handle(), message.data(), message.size());
    if (n >= 0) break;
    if (errno == EINTR) continue;
    // EAGAIN: the device's queue is full, as on any router: drop. EINVAL:
    // the kernel refused the header or packet.
    ++counters_.tx_dropped;
    return false;
  }
  ++counters_.tx_packets;
  counters_.tx_bytes += message.size() - vnet_header_size;
  return true;
}

}  // namespace mnigs::websocket

namespace mnigs::websocket {

bool TunPort::write_plain(std::span<const std::uint8_t> frame) {
  static const std::uint8_t zero[vnet_header_size] = {};
  iovec iov[2] = {{const_cast<std::uint8_t*>(zero), vnet_header_size},
                  {const_cast<std::uint8_t*>(frame.data()), frame.size()}};
  for (;;) {
    ssize_t n = ::writev(fd_.native_handle(), iov, 2);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    ++counters_.tx_dropped;
    return false;
  }
  ++counters_.tx_packets;
  counters_.tx_bytes += frame.size();
  return true;
}

}  // namespace mnigs::websocket
