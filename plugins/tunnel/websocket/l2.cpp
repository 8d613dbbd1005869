#include "l2.hpp"

#include <mnigs/log.hpp>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstring>

namespace mnigs::websocket {

namespace net = boost::asio;

L2Switch::L2Switch(net::io_context& io, Switch::Options options, Link::Options link,
                   std::size_t max_peers, Logger& log)
    : io_(io),
      link_options_(link),
      log_(log),
      pool_(std::make_shared<FramePool>(max_tun_read)),
      switch_(options),
      max_peers_(max_peers) {
  link_options_.role = Link::Role::server;
  link_options_.max_message = max_l2_message;
}

void L2Switch::start(std::optional<TunDevice> tap, std::optional<Mac> tap_mac) {
  if (!tap) return;
  tap_ = std::make_shared<TunPort>(io_, std::move(*tap), pool_, log_);
  {
    std::lock_guard lock(status_mutex_);
    switch_.add_peer(kTapPeer, tap_mac, true, true);
  }
  std::weak_ptr<L2Switch> weak = shared_from_this();
  tap_->start(
      [weak](OutFrame frame, std::size_t size) {
        auto self = weak.lock();
        if (!self) return;
        self->on_frame(kTapPeer, {frame.payload() + vnet_header_size, size - vnet_header_size});
        self->pool_->give(std::move(frame));
      },
      [weak] {
        if (auto self = weak.lock()) self->schedule_flush();
      });
}

void L2Switch::stop() {
  stopped_ = true;
  if (tap_) tap_->stop();
  std::vector<std::shared_ptr<Link>> links;
  {
    std::lock_guard lock(status_mutex_);
    for (auto& [id, p] : peers_) links.push_back(p->link);
    peers_.clear();
    dirty_.clear();
  }
  // Outside the lock: a link that fails at once calls its OnClosed, which
  // takes the lock.
  for (auto& link : links) link->close(close_going_away, "the switch is stopping");
}

void L2Switch::set_flooding(bool broadcast, bool multicast) {
  std::lock_guard lock(status_mutex_);
  switch_.set_flooding(broadcast, multicast);
}

bool L2Switch::admit() {
  std::size_t n = admitted_.load();
  do {
    if (n >= max_peers_) return false;
  } while (!admitted_.compare_exchange_weak(n, n + 1));
  return true;
}

void L2Switch::release() { --admitted_; }

void L2Switch::drop_session(const std::string& session) {
  std::vector<std::shared_ptr<Link>> links;
  {
    std::lock_guard lock(status_mutex_);
    for (auto& [id, p] : peers_)
      if (!session.empty() && p->session == session) links.push_back(p->link);
  }
  for (auto& link : links) link->close(close_policy, "its session ended");
}

PeerId L2Switch::add(net::ip::tcp::socket socket, std::shared_ptr<tls::Session> tls,
                     std::string pending, std::optional<Mac> mac, bool bridge, std::string remote,
                     std::string session) {
  const PeerId id = next_id_++;
  auto peer = std::make_shared<Peer>();
  peer->remote = std::move(remote);
  peer->session = std::move(session);
  peer->link = std::make_shared<Link>(std::move(socket), link_options_, peer->counters, pool_,
                                      std::move(tls));
  {
    std::lock_guard lock(status_mutex_);
    switch_.add_peer(id, mac, bridge);
    peers_[id] = peer;
  }
  std::weak_ptr<L2Switch> weak = shared_from_this();
  peer->link->start(
      {reinterpret_cast<const std::uint8_t*>(pending.data()), pending.size()},
      [weak, id](std::span<std::uint8_t> frame) {
        if (auto self = weak.lock()) self->on_frame(id, frame);
      },
      // The peer object (and the counters its link writes) lives until here.
      [weak, id, peer](const std::string& reason, bool) {
        auto self = weak.lock();
        if (!self) return;
        self->release();
        if (peer->link->closed_slow()) {
          // A peer can do this on purpose, again and again: a line per 10 s.
          ++self->closed_slow_;
          std::uint64_t quiet = 0;
          if (self->slow_log_.allow(LogLimit::Clock::now(), &quiet))
            self->log_.warn("switch peer ", id, " (", peer->remote, ") closed: ", reason,
                            quiet ? " (and " + std::to_string(quiet) +
                                        " more slow readers since the last report)"
                                  : "");
        } else {
          self->log_.info("switch peer ", id, " (", peer->remote, ") left: ", reason);
        }
        std::lock_guard lock(self->status_mutex_);
        self->switch_.remove_peer(id);
        self->peers_.erase(id);
        std::erase(self->dirty_, peer->link.get());
      });
  return id;
}

void L2Switch::on_frame(PeerId from, std::span<const std::uint8_t> frame) {
  Verdict v;
  {
    std::lock_guard lock(status_mutex_);
    v = switch_.route(from, frame, std::chrono::steady_clock::now(), out_);
  }
  if (v != Verdict::forwarded && v != Verdict::flooded) return;
  for (PeerId to : out_) deliver(to, frame);
}

void L2Switch::deliver(PeerId to, std::span<const std::uint8_t> frame) {
  if (to == kTapPeer) {
    if (tap_) tap_->write_plain(frame);
    return;
  }
  auto it = peers_.find(to);
  if (it == peers_.end() || !it->second->link->open()) return;
  Link* link = it->second->link.get();
  OutFrame out = pool_->take();
  std::memcpy(out.payload(), frame.data(), frame.size());
  link->send(std::move(out), frame.size());
  if (std::find(dirty_.begin(), dirty_.end(), link) == dirty_.end()) dirty_.push_back(link);
  schedule_flush();
}

// Frames to the same peer from one batch of reads leave in one writev: the
// flush runs once the current handlers are done.
void L2Switch::schedule_flush() {
  if (flush_posted_ || dirty_.empty()) return;
  flush_posted_ = true;
  net::post(io_, [weak = std::weak_ptr<L2Switch>(shared_from_this())] {
    auto self = weak.lock();
    if (!self) return;
    self->flush_posted_ = false;
    auto dirty = std::move(self->dirty_);
    self->dirty_.clear();
    for (Link* l : dirty) l->flush();
  });
}

L2Switch::Status L2Switch::status() const {
  std::lock_guard lock(status_mutex_);
  Status s;
  auto st = switch_.status(std::chrono::steady_clock::now());
  s.verdicts = st.verdicts;
  for (const auto& p : st.peers) {
    PeerInfo info;
    info.id = p.id;
    info.mac = p.mac;
    info.bridge = p.bridge;
    info.learned = p.learned;
    info.frames = p.frames;
    info.dropped = p.dropped;
    if (p.id == kTapPeer) {
      info.remote = "gateway";
    } else if (auto it = peers_.find(p.id); it != peers_.end()) {
      const Peer& peer = *it->second;
      info.remote = peer.remote;
      info.session = peer.session;
      info.queued = peer.counters.queued;
      info.queued_peak = peer.counters.queued_peak;
      info.dropped_queue_full = peer.counters.dropped_queue_full;
    }
    s.peers.push_back(info);
  }
  s.closed_slow = closed_slow_;
  return s;
}

}  // namespace mnigs::websocket
