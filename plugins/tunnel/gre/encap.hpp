// The userspace encapsulation of tunnel/gre: raw IP sockets (protocol 47
// for GRE; 4 and 41 for IP in IP) and tun devices without a packet header,
// on the plugin's data thread. What it puts on the wire is what the
// kernel's gre/ip6gre/ipip/sit/ip6tnl devices put there, so either end may
// be a kernel device.
//
// Gateway: one tun device shared by the sessions. A packet read from it
// goes to the session whose tunnel address is its destination; a packet
// received is written to it only when it comes from a session's
// subscriber address, with the session's key (GRE), and from one of the
// session's tunnel addresses. Subscriber: a tun device per session, and
// only what comes from its gateway with its key, to its tunnel address.
// Everything else is dropped and counted by reason (wire.hpp's Drop).
//
// Threading: every member function runs on the data thread but
// counters() and the sessions' Traffic, which any thread may read.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

#include "coalesce.hpp"
#include "segment.hpp"
#include "tun_device.hpp"
#include "wire.hpp"

namespace mnigs {
class Logger;
}

namespace mnigs::gre {

enum class Encap { gre, ipip };

// One session's packets, readable from any thread.
struct Traffic {
  std::atomic<std::uint64_t> tx_packets{0}, tx_bytes{0};  // sent towards the far end
  std::atomic<std::uint64_t> rx_packets{0}, rx_bytes{0};  // received from it
};

// One session as the data plane sees it.
struct Endpoint {
  std::string name;  // the plugin's key for it
  bool gateway = false;  // this end is the session's gateway
  Ip remote;                // the far end's mesh address
  std::optional<Ip> local;  // the source of what is sent; nullopt: the kernel's choice
  std::uint32_t key = 0;    // GRE key, both ways (unused by IP in IP)
  std::optional<Ip> inner4, inner6;  // the subscriber's tunnel addresses
  std::shared_ptr<Traffic> traffic = std::make_shared<Traffic>();
};

class Encapsulator : public std::enable_shared_from_this<Encapsulator> {
 public:
  Encapsulator(boost::asio::io_context& io, Encap encap, Logger& log);
  ~Encapsulator();
  Encapsulator(const Encapsulator&) = delete;
  Encapsulator& operator=(const Encapsulator&) = delete;

  // Opens the raw sockets (both outer families; one that the host lacks is
  // left out) and starts reading. Throws std::system_error when none opens.
  void start();
  // Closes every socket and device.
  void stop();

  // The gateway's device, shared by its sessions (replaces one set before).
  void set_gateway_device(tunnels::TunDevice device);
  void close_gateway_device();
  // Adds or replaces a session; a subscriber's session brings its device.
  void add(Endpoint endpoint, std::optional<tunnels::TunDevice> device);
  // Removes a session and closes its device; unknown names are ignored.
  void remove(const std::string& name);

  // Drops by reason, and packets moved, since start. Any thread.
  std::uint64_t drops(Drop reason) const { return drops_[static_cast<std::size_t>(reason)]; }
  // Sockets open, e.g. "ipv4 ipv6"; for status.
  std::string sockets() const;

  // Handles one packet as if a raw socket of outer family `outer_v6` and
  // protocol `protocol` had received it from `from` (IPv6; for IPv4 the
  // header carries the source). The unit tests and the fuzz target call
  // it; the data plane does for each packet read.
  void receive(std::span<const std::uint8_t> packet, bool outer_v6, int protocol,
               const std::optional<Ip>& from);

 private:
  struct Session;
  struct Socket;
  struct Device;

  void arm(const std::shared_ptr<Socket>& socket);
  void arm(const std::shared_ptr<Device>& device);
  void read_socket(Socket& socket);
  void read_device(Device& device);
  // Sends an inner packet, or the segments it was cut into, to the
  // session's far end in one sendmmsg.
  void send(Session& session, const std::vector<Segment>& segments, bool inner_v6);
  // At most kMaxBatch of them, with the header, address and control
  // message send() made.
  void send_batch(Socket& socket, Session& session, std::span<const Segment> segments,
                  std::span<const std::uint8_t> header, sockaddr_storage* to, socklen_t to_len,
                  void* control, std::size_t control_len);
  // Writes a received inner packet to its device, or keeps it to join
  // the next ones (coalesce.hpp) until flush_pending().
  void deliver(Session& session, std::span<const std::uint8_t> packet);
  void flush_pending();
  void drop(Drop reason) { ++drops_[static_cast<std::size_t>(reason)]; }
  void index(const std::shared_ptr<Session>& session);
  void unindex(const Session& session);

  boost::asio::io_context& io_;
  Encap encap_;
  Logger& log_;
  bool stopped_ = false;
  // Raw sockets by outer family and inner family ([v6 outer][v6 inner]);
  // GRE uses one per outer family ([x][0]).
  std::shared_ptr<Socket> sockets_[2][2];
  std::shared_ptr<Device> gateway_device_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;
  std::map<Ip, std::vector<std::shared_ptr<Session>>> by_remote_;
  std::map<Ip, std::shared_ptr<Session>> by_inner_;  // the gateway's sessions
  std::vector<std::uint8_t> buffer_;
  // Datagrams taken from a raw socket per recvmmsg, each into a buffer of
  // its own (made on the first read: 8 times 64 KiB).
  static constexpr std::size_t kReceiveBatch = 8;
  std::vector<std::vector<std::uint8_t>> receive_buffers_;
  // Received segments joined for one write, and the device it goes to.
  Coalescer coalescer_;
  Device* pending_ = nullptr;
  // What send() works with, kept to spare allocations per packet: at most
  // kMaxBatch segments of a packet go out in one sendmmsg.
  static constexpr std::size_t kMaxBatch = 64;
  std::vector<std::uint8_t> segment_store_;
  std::vector<Segment> segments_;
  mmsghdr messages_[kMaxBatch] = {};
  iovec iovecs_[kMaxBatch][3] = {};
  std::array<std::atomic<std::uint64_t>, kDropKinds> drops_{};
};

}  // namespace mnigs::gre
