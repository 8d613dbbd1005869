// The vpn-ws compatible layer-2 switch on the data plane: every peer is a
// WebSocket whose binary messages are bare Ethernet frames; Switch
// (switch.hpp) decides where each frame goes, and this copies it to each
// destination's link. With `websocket.l2Address` the gateway itself is a
// port of the switch too: a tap device (a bridge peer, so frames for
// addresses behind it reach it) whose traffic is masqueraded like the L3
// tunnel's; its MAC is reserved (switch.hpp): no peer may claim it.
//
// What peers can make it hold: at most `max_peers` peers (websocket.maxPeers;
// the HTTP server stops counting a connection once it is upgraded), each
// with a queue of at most max_queue bytes (link.hpp); a flooded frame is
// copied once per peer, into a buffer of its own size. A peer that takes
// nothing while its queue is full is closed as a slow reader.
//
// Threading: data plane thread only, except status(), the counters, admit()
// and release().
#pragma once

#include "dataplane.hpp"
#include "link.hpp"
#include "log_limit.hpp"
#include "switch.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::websocket {

// Frames are refused past this size (a jumbo frame and its header); vpn-ws
// clients send at most 1500 bytes.
inline constexpr std::uint64_t max_l2_message = 9018 + 4;

class L2Switch : public std::enable_shared_from_this<L2Switch> {
 public:
  L2Switch(boost::asio::io_context& io, Switch::Options options, Link::Options link,
           std::size_t max_peers, Logger& log);

  // Optionally the gateway's own port (a tap device, joined as a bridge),
  // with its MAC, which is then reserved.
  void start(std::optional<TunDevice> tap, std::optional<Mac> tap_mac = std::nullopt);
  void stop();

  // A place for one more peer, taken before the upgrade is answered: false
  // when max_peers are there or on their way. Every admit() that returns
  // true is followed by one add() or one release(). Thread-safe.
  bool admit();
  void release();
  std::size_t max_peers() const { return max_peers_; }

  // A peer upgraded on the switch's path (after admit()), joined for
  // `session` ("" for none: l2Auth proxy or none), over `tls` (wss) or
  // the plain socket (null). Returns its id.
  PeerId add(boost::asio::ip::tcp::socket socket, std::shared_ptr<tls::Session> tls,
             std::string pending, std::optional<Mac> mac, bool bridge, std::string remote,
             std::string session = "");
  // Closes the peers that joined for `session` (it ended).
  void drop_session(const std::string& session);
  void set_flooding(bool broadcast, bool multicast);

  struct PeerInfo {
    PeerId id = 0;
    std::string remote;
    std::optional<Mac> mac;
    bool bridge = false;
    std::size_t learned = 0;
    std::string session;
    std::uint64_t frames = 0, dropped = 0;
    std::uint64_t queued = 0, queued_peak = 0;  // bytes waiting for it (link.hpp)
    std::uint64_t dropped_queue_full = 0;
  };
  struct Status {
    std::vector<PeerInfo> peers;
    std::array<std::uint64_t, verdict_count> verdicts{};
    std::uint64_t closed_slow = 0;  // peers closed as slow readers, so far
  };
  Status status() const;  // thread-safe snapshot

 private:
  struct Peer {
    std::shared_ptr<Link> link;
    std::string remote;
    std::string session;
    LinkCounters counters;
  };
  static constexpr PeerId kTapPeer = 0;  // the gateway's own port

  void on_frame(PeerId from, std::span<const std::uint8_t> frame);
  void deliver(PeerId to, std::span<const std::uint8_t> frame);
  void schedule_flush();

  boost::asio::io_context& io_;
  Link::Options link_options_;
  Logger& log_;
  std::shared_ptr<FramePool> pool_;
  std::shared_ptr<TunPort> tap_;
  Switch switch_;
  std::size_t max_peers_;
  std::atomic<std::size_t> admitted_{0};  // peers there or on their way
  std::atomic<std::uint64_t> closed_slow_{0};
  LogLimit slow_log_{1, std::chrono::seconds(10)};
  std::map<PeerId, std::shared_ptr<Peer>> peers_;
  PeerId next_id_ = 1;
  std::vector<PeerId> out_;
  std::vector<Link*> dirty_;
  bool flush_posted_ = false;
  mutable std::mutex status_mutex_;  // guards peers_ and switch_ against status()
  bool stopped_ = false;
};

}  // namespace mnigs::websocket
