#include "switch.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

namespace mnigs::websocket {

namespace {

constexpr std::size_t kEthernetHeader = 14;
// MACs as Mac::to_u64() packs them: the first byte in bits 40..47, so its
// group bit (bit 0) is bit 40.
constexpr std::uint64_t kGroupBit = 1ull << 40;
constexpr std::uint64_t kBroadcast = 0xffffffffffffull;

std::uint64_t load_mac(const std::uint8_t* p) {
  return std::uint64_t{p[0]} << 40 | std::uint64_t{p[1]} << 32 | std::uint64_t{p[2]} << 24 |
         std::uint64_t{p[3]} << 16 | std::uint64_t{p[4]} << 8 | std::uint64_t{p[5]};
}

}  // namespace

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::forwarded:
      return "forwarded";
    case Verdict::flooded:
      return "flooded";
    case Verdict::too_short:
      return "too_short";
    case Verdict::bad_source:
      return "bad_source";
    case Verdict::spoofed:
      return "spoofed";
    case Verdict::to_self:
      return "to_self";
    case Verdict::no_destination:
      return "no_destination";
    case Verdict::flood_disabled:
      return "flood_disabled";
    case Verdict::unknown_peer:
      return "unknown_peer";
  }
  return "unknown";
}

Switch::Switch(Options options) : options_(options) {
  if (options_.max_learned >= npos) {
    throw std::invalid_argument("websocket: max_learned " + std::to_string(options_.max_learned) +
                                " is too large");
  }
  pool_.resize(options_.max_learned);
  for (std::size_t i = pool_.size(); i-- > 0;) {
    pool_[i].next = free_;
    free_ = static_cast<std::uint32_t>(i);
  }
  reserve_table(options_.max_learned + 8);
}

// ---- the MAC table ----

std::size_t Switch::slot_of(std::uint64_t mac) const {
  const std::size_t mask = table_.size() - 1;
  // Fibonacci hashing: the top bits of the product depend on every byte,
  // so MACs sharing a vendor prefix still spread.
  const int bits = std::countr_zero(table_.size());
  std::size_t i = static_cast<std::size_t>((mac * 0x9E3779B97F4A7C15ull) >> (64 - bits)) & mask;
  while (table_[i].mac != 0 && table_[i].mac != mac) i = (i + 1) & mask;
  return i;
}

void Switch::table_insert(std::uint64_t mac, PeerId owner, std::uint32_t learned) {
  Slot& s = table_[slot_of(mac)];
  if (s.mac == 0) ++table_used_;
  s = Slot{mac, owner, learned};
}

void Switch::table_erase(std::uint64_t mac) {
  const std::size_t mask = table_.size() - 1;
  const int bits = std::countr_zero(table_.size());
  std::size_t hole = slot_of(mac);
  if (table_[hole].mac == 0) return;
  // Backward-shift deletion: no tombstones, so lookups stay short however
  // often MACs come and go.
  for (std::size_t j = (hole + 1) & mask; table_[j].mac != 0; j = (j + 1) & mask) {
    const std::size_t home =
        static_cast<std::size_t>((table_[j].mac * 0x9E3779B97F4A7C15ull) >> (64 - bits)) & mask;
    // Entry j may fill the hole unless its home lies cyclically in (hole, j].
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    table_[hole] = table_[j];
    hole = j;
  }
  table_[hole] = Slot{};
  --table_used_;
}

void Switch::reserve_table(std::size_t entries) {
  // At most half full keeps probe sequences short; growth happens only in
  // add_peer (and the constructor), never in route().
  const std::size_t wanted = std::bit_ceil(std::max<std::size_t>(16, entries * 2));
  if (table_.size() >= wanted) return;
  std::vector<Slot> old = std::move(table_);
  table_.assign(wanted, Slot{});
  table_used_ = 0;
  for (const Slot& s : old)
    if (s.mac != 0) table_insert(s.mac, s.owner, s.learned);
}

// ---- learned MACs ----

void Switch::list_unlink(std::uint32_t i) {
  Learned& l = pool_[i];
  (l.prev == npos ? oldest_ : pool_[l.prev].next) = l.next;
  (l.next == npos ? newest_ : pool_[l.next].prev) = l.prev;
  l.prev = l.next = npos;
}

void Switch::list_push_back(std::uint32_t i) {
  Learned& l = pool_[i];
  l.prev = newest_;
  l.next = npos;
  (newest_ == npos ? oldest_ : pool_[newest_].next) = i;
  newest_ = i;
}

void Switch::forget_learned(std::uint32_t i) {
  Learned& l = pool_[i];
  list_unlink(i);
  table_erase(l.mac);
  if (Peer* owner = find_peer(l.owner)) --owner->learned;
  l = Learned{};
  l.next = free_;
  free_ = i;
}

void Switch::learn(Peer& peer, std::uint64_t mac, TimePoint now) {
  const Slot& s = table_[slot_of(mac)];
  if (s.mac == mac) {
    // Known: refresh it, moving it here if it was behind another bridge
    // (the station moved, or the bridges are looped).
    const std::uint32_t i = s.learned;
    Learned& l = pool_[i];
    if (l.owner != peer.id) {
      if (Peer* old = find_peer(l.owner)) --old->learned;
      ++peer.learned;
      l.owner = peer.id;
      table_[slot_of(mac)].owner = peer.id;
    }
    l.seen = now;
    list_unlink(i);
    list_push_back(i);
    return;
  }
  if (pool_.empty()) return;  // learning is off; unknown unicast goes to bridges
  // The list is ordered by last sight, so expired entries are at its front.
  while (oldest_ != npos && expired(pool_[oldest_], now)) forget_learned(oldest_);
  if (free_ == npos) forget_learned(oldest_);
  const std::uint32_t i = free_;
  free_ = pool_[i].next;
  pool_[i] = Learned{mac, peer.id, now, npos, npos};
  list_push_back(i);
  table_insert(mac, peer.id, i);
  ++peer.learned;
}

bool Switch::reserved_for_other(std::uint64_t mac, PeerId who) {
  const Slot& s = table_[slot_of(mac)];
  if (s.mac != mac || s.owner == who) return false;
  const Peer* owner = find_peer(s.owner);
  return owner && owner->reserved;
}

bool Switch::claim_own(Peer& peer, std::uint64_t mac) {
  if (reserved_for_other(mac, peer.id)) return false;
  const Slot& s = table_[slot_of(mac)];
  if (s.mac == mac && s.learned != npos) {
    // Learned behind a bridge until now; the station itself is authoritative.
    forget_learned(s.learned);
  }
  // Inserting over another peer's own entry hands the MAC to this peer.
  table_insert(mac, peer.id, npos);
  // A reserved peer's MAC is no longer anybody else's, even to send from.
  if (peer.reserved)
    for (Peer& q : peers_)
      if (q.id != peer.id && q.has_mac && q.mac == mac) q.has_mac = false;
  peer.has_mac = true;
  peer.mac = mac;
  return true;
}

void Switch::release_own(const Peer& peer) {
  if (!peer.has_mac) return;
  const Slot& s = table_[slot_of(peer.mac)];
  if (s.mac != peer.mac || s.learned != npos || s.owner != peer.id) return;  // taken over
  table_erase(peer.mac);
  // An older peer with the same MAC (whose claim this one overrode) gets it
  // back; the most recently added first.
  for (auto it = peers_.rbegin(); it != peers_.rend(); ++it) {
    if (it->id != peer.id && it->has_mac && it->mac == peer.mac) {
      table_insert(peer.mac, it->id, npos);
      return;
    }
  }
}

// ---- peers ----

Switch::Peer* Switch::find_peer(PeerId id) {
  const auto it = index_.find(id);
  return it == index_.end() ? nullptr : &peers_[it->second];
}

void Switch::add_peer(PeerId id, std::optional<Mac> mac, bool bridge, bool reserved) {
  if (find_peer(id)) remove_peer(id);
  peers_.push_back(Peer{});
  peers_.back().id = id;
  peers_.back().bridge = bridge;
  peers_.back().reserved = reserved;
  index_[id] = peers_.size() - 1;
  // Room for every peer's own MAC and every learned one, so that claiming a
  // MAC from a first frame in route() never rehashes.
  reserve_table(peers_.size() + pool_.size());
  // The handshake refuses group and zero MACs; should one get here anyway,
  // the peer is treated as having sent none. So is a reserved peer's MAC:
  // the peer's frames from it are then dropped as spoofed.
  if (mac && is_unicast(*mac)) claim_own(peers_.back(), mac->to_u64());
}

void Switch::remove_peer(PeerId id) {
  const auto it = index_.find(id);
  if (it == index_.end()) return;
  const std::size_t pos = it->second;
  release_own(peers_[pos]);
  for (std::uint32_t i = oldest_; i != npos;) {
    const std::uint32_t next = pool_[i].next;
    if (pool_[i].owner == id) forget_learned(i);
    i = next;
  }
  // Erasing (not swapping with the last) keeps peers in the order added,
  // which status() shows; removals are rare.
  peers_.erase(peers_.begin() + static_cast<std::ptrdiff_t>(pos));
  index_.erase(it);
  for (std::size_t p = pos; p < peers_.size(); ++p) index_[peers_[p].id] = p;
}

// ---- routing ----

Verdict Switch::route(PeerId from, std::span<const std::uint8_t> frame, TimePoint now,
                      std::vector<PeerId>& out) {
  out.clear();
  Peer* p = find_peer(from);
  if (!p) {
    ++verdicts_[static_cast<std::size_t>(Verdict::unknown_peer)];
    return Verdict::unknown_peer;
  }
  ++p->frames;
  auto drop = [&](Verdict v) {
    ++verdicts_[static_cast<std::size_t>(v)];
    ++p->dropped;
    return v;
  };
  auto sent = [&](Verdict v) {
    ++verdicts_[static_cast<std::size_t>(v)];
    return v;
  };

  if (frame.size() < kEthernetHeader) return drop(Verdict::too_short);
  const std::uint64_t dst = load_mac(frame.data());
  const std::uint64_t src = load_mac(frame.data() + 6);
  if ((src & kGroupBit) || src == 0) return drop(Verdict::bad_source);

  // Who may send from src. Learning happens before looking at dst, as in
  // any switch: a frame that is then dropped still shows where src lives.
  if (!p->bridge) {
    if (!p->has_mac) {
      if (!claim_own(*p, src)) return drop(Verdict::spoofed);
    } else if (src != p->mac) {
      return drop(Verdict::spoofed);
    }
  } else if (!(p->has_mac && src == p->mac)) {
    const Slot& s = table_[slot_of(src)];
    // A peer's own MAC is never learned away from it: that would let any
    // bridge capture a station's traffic.
    if (s.mac == src && s.learned == npos) return drop(Verdict::spoofed);
    // Nor is one learned behind a reserved peer (the gateway's port).
    if (reserved_for_other(src, from)) return drop(Verdict::spoofed);
    learn(*p, src, now);
  }

  if (dst == src || (p->has_mac && dst == p->mac)) return drop(Verdict::to_self);

  if (dst & kGroupBit) {
    const bool allowed = dst == kBroadcast ? options_.flood_broadcast : options_.flood_multicast;
    if (!allowed) return drop(Verdict::flood_disabled);
    for (const Peer& q : peers_)
      if (q.id != from) out.push_back(q.id);
    return sent(Verdict::flooded);
  }
  if (dst == 0) return drop(Verdict::no_destination);

  const Slot& s = table_[slot_of(dst)];
  if (s.mac == dst) {
    if (s.learned == npos || !expired(pool_[s.learned], now)) {
      // Learned behind the sender itself: the station already got it on the
      // bridge's own segment.
      if (s.owner == from) return drop(Verdict::to_self);
      out.push_back(s.owner);
      return sent(Verdict::forwarded);
    }
    forget_learned(s.learned);
  }
  // Unknown unicast: only bridges can have the station behind them.
  for (const Peer& q : peers_)
    if (q.bridge && q.id != from) out.push_back(q.id);
  if (out.empty()) return drop(Verdict::no_destination);
  return sent(Verdict::flooded);
}

std::optional<PeerId> Switch::owner(const Mac& mac, TimePoint now) const {
  const std::uint64_t key = mac.to_u64();
  if (key == 0) return std::nullopt;
  const Slot& s = table_[slot_of(key)];
  if (s.mac != key) return std::nullopt;
  if (s.learned != npos && expired(pool_[s.learned], now)) return std::nullopt;
  return s.owner;
}

std::size_t Switch::expire(TimePoint now) {
  std::size_t n = 0;
  while (oldest_ != npos && expired(pool_[oldest_], now)) {
    forget_learned(oldest_);
    ++n;
  }
  return n;
}

Switch::Status Switch::status(TimePoint now) const {
  Status st;
  st.verdicts = verdicts_;
  st.peers.reserve(peers_.size());
  for (const Peer& p : peers_) {
    PeerStatus ps;
    ps.id = p.id;
    if (p.has_mac) ps.mac = Mac::from_u64(p.mac);
    ps.bridge = p.bridge;
    ps.frames = p.frames;
    ps.dropped = p.dropped;
    st.peers.push_back(ps);
  }
  // Expired entries linger until something needs their room; count only
  // the live ones.
  for (std::uint32_t i = oldest_; i != npos; i = pool_[i].next) {
    const Learned& l = pool_[i];
    if (expired(l, now)) continue;
    ++st.learned;
    if (const auto it = index_.find(l.owner); it != index_.end()) ++st.peers[it->second].learned;
  }
  return st;
}

}  // namespace mnigs::websocket
