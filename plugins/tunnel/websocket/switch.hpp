// The layer-2 switch between websocket peers, with vpn-ws's rules: each
// peer is one station (its MAC from the X-vpn-ws-MAC header or its first
// frame) or a bridge that may speak for other stations, whose MACs are
// learned. Logic only: it decides where an Ethernet frame goes; the plugin
// moves the bytes.
//
// Thread-compatible: one Switch per tunnel, used from one strand. route()
// does not allocate once `out` has held as many peers as there are.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "mac.hpp"

namespace mnigs::websocket {

using PeerId = std::uint64_t;

enum class Verdict {
  forwarded,       // to the one peer that owns the destination
  flooded,         // broadcast / multicast to every other peer, or an unknown
                   // unicast destination to every bridge peer
  too_short,       // under 14 bytes: no Ethernet header
  bad_source,      // broadcast, multicast or zero source MAC
  spoofed,         // source MAC not the peer's and peer not a bridge; or a
                   // bridge sending from another peer's own MAC
  to_self,         // dst == src, or dst is the sender's own (or learned) MAC
  no_destination,  // unicast to an unknown (or the zero) MAC and no bridge peer
  flood_disabled,  // broadcast / multicast with that option off
  unknown_peer,    // `from` was never added or has been removed
};
inline constexpr std::size_t verdict_count = 9;

// "forwarded", "too_short", ... (the enumerator's name).
const char* to_string(Verdict verdict);

class Switch {
 public:
  struct Options {
    bool flood_broadcast = true;            // ff:ff:ff:ff:ff:ff to every other peer
    bool flood_multicast = true;            // other group addresses (01:00:5e, 33:33, ...) likewise
    std::size_t max_learned = 4096;         // MACs learned behind bridges, all bridges together
    std::chrono::seconds learned_ttl{300};  // a learned MAC is forgotten this long after
                                            // its last frame
  };

  struct PeerStatus {
    PeerId id = 0;
    std::optional<Mac> mac;  // its own MAC, once known
    bool bridge = false;
    std::size_t learned = 0;    // MACs learned behind it, not expired
    std::uint64_t frames = 0;   // frames routed from it
    std::uint64_t dropped = 0;  // of those, how many went nowhere
  };
  struct Status {
    // Frames per verdict, indexed by static_cast<std::size_t>(Verdict).
    std::array<std::uint64_t, verdict_count> verdicts{};
    std::size_t learned = 0;        // learned MACs, not expired, all peers
    std::vector<PeerStatus> peers;  // in the order they were added
  };

  explicit Switch(Options options);

  // A peer joins. mac: from X-vpn-ws-MAC; when absent a non-bridge peer's
  // MAC is taken from the source of its first valid frame (a bridge's is
  // then learned like any other). A MAC that another peer owned moves to
  // this one: the newest claim wins (a client reconnecting before its old
  // connection timed out). An id already present is replaced.
  //
  // A `reserved` peer (the gateway's own port) keeps what is its own: its
  // MAC and the MACs learned behind it are never claimed by another peer
  // (a header naming one leaves that peer without a MAC; frames from one
  // are `spoofed`) nor learned away by a bridge. Otherwise any station
  // could take the gateway's MAC and sit between it and every peer.
  void add_peer(PeerId id, std::optional<Mac> mac, bool bridge, bool reserved = false);
  // Forgets the peer, its own MAC and every MAC learned for it. Unknown ids
  // are ignored.
  void remove_peer(PeerId id);

  // Where a frame (starting with its Ethernet header) from `from` goes.
  // `out` is cleared and filled with the destinations; for a dropped frame
  // it stays empty. `now` dates learned MACs; pass a non-decreasing clock.
  Verdict route(PeerId from, std::span<const std::uint8_t> frame,
                std::chrono::steady_clock::time_point now, std::vector<PeerId>& out);

  // The peer a frame to `mac` would be forwarded to, if any (its own MAC,
  // or learned and not expired at `now`).
  std::optional<PeerId> owner(const Mac& mac, std::chrono::steady_clock::time_point now) const;
  // Drops learned MACs expired at `now` (route() also does it as it goes);
  // returns how many.
  std::size_t expire(std::chrono::steady_clock::time_point now);

  Status status(std::chrono::steady_clock::time_point now) const;
  const Options& options() const { return options_; }
  // Changes the flooding options (websocket.l2FloodBroadcast/-Multicast are
  // live); from the next frame on.
  void set_flooding(bool broadcast, bool multicast) {
    options_.flood_broadcast = broadcast;
    options_.flood_multicast = multicast;
  }

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr std::uint32_t npos = 0xffffffff;

  struct Peer {
    PeerId id = 0;
    bool bridge = false;
    bool reserved = false;
    bool has_mac = false;
    std::uint64_t mac = 0;  // Mac::to_u64()
    std::size_t learned = 0;
    std::uint64_t frames = 0;
    std::uint64_t dropped = 0;
  };
  // A learned MAC, in a fixed pool threaded on a list from the least to the
  // most recently seen, so the oldest is evicted in O(1).
  struct Learned {
    std::uint64_t mac = 0;
    PeerId owner = 0;
    TimePoint seen{};
    std::uint32_t prev = npos;
    std::uint32_t next = npos;
  };
  // The MAC table: open addressing, linear probing, key 0 = empty (the zero
  // MAC is never stored). `learned` is npos for a peer's own MAC.
  struct Slot {
    std::uint64_t mac = 0;
    PeerId owner = 0;
    std::uint32_t learned = npos;
  };

  Peer* find_peer(PeerId id);
  std::size_t slot_of(std::uint64_t mac) const;  // its slot, or the empty one where it would go
  void table_insert(std::uint64_t mac, PeerId owner, std::uint32_t learned);
  void table_erase(std::uint64_t mac);
  void reserve_table(std::size_t entries);
  bool expired(const Learned& l, TimePoint now) const {
    return now - l.seen > options_.learned_ttl;
  }

  void list_unlink(std::uint32_t i);
  void list_push_back(std::uint32_t i);
  void forget_learned(std::uint32_t i);
  void learn(Peer& peer, std::uint64_t mac, TimePoint now);
  // False (nothing changes) when the MAC is a reserved peer's.
  bool claim_own(Peer& peer, std::uint64_t mac);
  // Whether `mac` belongs to a reserved peer other than `who`.
  bool reserved_for_other(std::uint64_t mac, PeerId who);
  void release_own(const Peer& peer);

  Options options_;
  std::vector<Peer> peers_;                        // dense, in the order added
  std::unordered_map<PeerId, std::size_t> index_;  // id -> position in peers_
  std::vector<Slot> table_;                        // size a power of two, kept at most half full
  std::size_t table_used_ = 0;
  std::vector<Learned> pool_;  // max_learned entries
  std::uint32_t free_ = npos;  // free pool entries, chained through next
  std::uint32_t oldest_ = npos;
  std::uint32_t newest_ = npos;
  std::array<std::uint64_t, verdict_count> verdicts_{};
};

}  // namespace mnigs::websocket
