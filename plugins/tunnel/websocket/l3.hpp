// The L3 tunnel's two ends on the data plane.
//
// Wire form: every binary message is one packet, a 10-byte virtio-net header
// (little-endian; all zero for a plain packet) followed by the IP packet.
// The header lets a segment of up to 64 KiB cross as one message and be
// split by the kernel at the far end only if it must be (tun.hpp).
//
// L3Gateway: the one tun device all sessions share. A packet read from it
// goes to the session whose tunnel address is its destination; a packet
// from a session is written to it only when its source is one of that
// session's tunnel addresses.
//
// TunnelClient: the subscriber's tun device and its link to the gateway (or,
// with Target::ethernet, a tap device and its link to a vpn-ws switch). It
// connects, upgrades, and when the link fails connects again with backoff
// (0.5 s doubling to 30 s), for the same session and addresses, until
// stopped.
//
// Threading: both live on the data plane's thread; every member is called
// there except the counters and status(), which any thread may read.
#pragma once

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dataplane.hpp"
#include "handshake.hpp"
#include "link.hpp"
#include "log_limit.hpp"
#include "packet.hpp"

namespace mnigs {
class Logger;
}

namespace mnigs::websocket {

// Packets the L3 ends refused, for status and tests.
struct L3Counters {
  std::atomic<std::uint64_t> spoofed{0};    // source not the session's address
  std::atomic<std::uint64_t> no_route{0};   // destination is no session (or its link is down)
  std::atomic<std::uint64_t> malformed{0};  // not an IPv4/IPv6 packet behind a header
  std::atomic<std::uint64_t> closed_slow{0};  // links closed as slow readers (link.hpp)
};

// Messages are refused past this size: a 64 KiB segment and its header.
inline constexpr std::uint64_t max_l3_message = max_tun_read;

// The log lines about dropped packets: one per 10 s, with the number left
// out since the last; the counters count them all.
class DropLog {
 public:
  DropLog(Logger& log, std::string what) : log_(log), what_(std::move(what)) {}
  void note(const std::string& reason);

 private:
  Logger& log_;
  std::string what_;
  LogLimit limit_{1, std::chrono::seconds(10)};
};

class L3Gateway : public std::enable_shared_from_this<L3Gateway> {
 public:
  L3Gateway(boost::asio::io_context& io, TunDevice device, Link::Options options, Logger& log);

  void start();
  // Closes every link and the device.
  void stop();

  // Session `id` may use `address4`/`address6` (either may be empty). A
  // second call for the same id replaces its link (the subscriber came back).
  // `tls`: the connection's TLS session (wss), or null.
  void attach(const std::string& id, boost::asio::ip::tcp::socket socket,
              std::shared_ptr<tls::Session> tls, std::string pending,
              const std::string& address4, const std::string& address6);
  // Closes the session's link and forgets its addresses.
  void detach(const std::string& id, const std::string& reason);

  struct SessionStatus {
    std::string id;
    bool connected = false;
    std::uint64_t rx_bytes = 0, tx_bytes = 0, dropped = 0;
    std::uint64_t queued = 0, queued_peak = 0;  // bytes waiting for it (link.hpp)
  };
  // Thread-safe snapshot.
  std::vector<SessionStatus> sessions() const;
  const L3Counters& counters() const { return counters_; }
  const TunCounters& tun_counters() const { return tun_->counters(); }

 private:
  struct Entry {
    std::string id;
    std::optional<IpKey> address4, address6;
    std::shared_ptr<Link> link;
    LinkCounters counters;
    std::uint64_t generation = 0;  // which link is current, for its OnClosed
    bool dirty = false;            // written to in this batch
  };
  void on_tun_packet(OutFrame frame, std::size_t size);
  void on_message(Entry& entry, std::span<std::uint8_t> message);

  boost::asio::io_context& io_;
  Link::Options options_;
  Logger& log_;
  std::shared_ptr<FramePool> pool_;
  std::shared_ptr<TunPort> tun_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries_;
  std::unordered_map<IpKey, Entry*, IpKeyHash> by_address_;
  std::vector<Entry*> dirty_;
  L3Counters counters_;
  DropLog drops_;
  LogLimit slow_log_{1, std::chrono::seconds(10)};
  mutable std::mutex status_mutex_;  // guards the links' presence for sessions()
};

class TunnelClient : public std::enable_shared_from_this<TunnelClient> {
 public:
  struct Target {
    std::string address;  // the gateway's mesh address
    std::uint16_t port = 0;
    std::string path;  // "/ws/websocket"
    Headers headers;   // the session's credentials
    // The vpn-ws wire form: each message a bare Ethernet frame (a tap
    // device), instead of a virtio-net header and an IP packet.
    bool ethernet = false;
    // wss: the pin of the key the gateway must show (tls.hpp); "" for ws.
    std::string tls_pin;
  };
  struct Status {
    bool connected = false;
    std::uint64_t connects = 0;  // successful upgrades so far
    std::string last_error;
    std::string tls;  // the link's TLS version and cipher ("TLSv1.3 TLS_AES_128_GCM_SHA256")
  };

  TunnelClient(boost::asio::io_context& io, TunDevice device, Link::Options options, Target target,
           Logger& log);

  void start();
  void stop();

  Status status() const;  // thread-safe
  const L3Counters& counters() const { return counters_; }
  const LinkCounters& link_counters() const { return link_counters_; }
  const TunCounters& tun_counters() const { return tun_->counters(); }

 private:
  void do_connect();
  void on_connect(boost::system::error_code ec);
  void send_request();
  void do_read_response();
  // The upgrade's answer is in response_: a link, a retry, or more to read.
  void on_response();
  void retry(const std::string& why);
  void on_message(std::span<std::uint8_t> message);

  boost::asio::io_context& io_;
  Link::Options options_;
  Target target_;
  Logger& log_;
  std::shared_ptr<FramePool> pool_;
  std::shared_ptr<TunPort> tun_;
  std::optional<boost::asio::ip::tcp::socket> socket_;  // while connecting
  std::shared_ptr<tls::Session> tls_;                   // wss, from the handshake on
  std::string key_;
  std::string request_;
  std::string response_;
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds backoff_{500};
  std::shared_ptr<Link> link_;
  LinkCounters link_counters_;
  L3Counters counters_;
  DropLog drops_;
  bool stopped_ = false;
  mutable std::mutex status_mutex_;
  Status status_;
};

}  // namespace mnigs::websocket
