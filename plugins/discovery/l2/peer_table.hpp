// The nodes this node has heard on its links, one entry per node id, and
// their ageing. A node on two of our links (two bridges, or a LAN plus a
// direct cable) is one peer heard on two interfaces, each with the addresses
// it announces there and its own holdtime.
//
// Driven by the caller's clock: every call takes `now`, so tests age peers
// without waiting. Not thread-safe; the plugin uses it on its strand only.
#pragma once

#include "announcement.hpp"

#include <mnigs/plugin.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::l2 {

using Clock = std::chrono::steady_clock;

// What one interface hears from a peer.
struct Sighting {
  std::vector<std::string> addresses;  // as announced there
  std::string source;                  // its link-local source, with zone ("fe80::1%eth0")
  int interval = 0;                    // seconds between its announcements, as it says
  Clock::time_point last_heard;
};

struct Peer {
  std::string id;
  std::map<std::string, Sighting> links;  // by our interface
  Clock::time_point first_heard;
};

class PeerTable {
 public:
  enum class Change {
    added,      // a node not known before
    new_link,   // known, but not heard on this interface before
    changed,    // known there, announcing other addresses now
    refreshed,  // known there and unchanged
    refused,    // a node not known before, while the table is full: not recorded
  };

  struct Expiry {
    std::vector<std::string> gone;  // peers no longer heard anywhere, now removed
    bool changed = false;           // some remaining peer is no longer heard on an interface
  };

  // `holdtime`: how long a silent sighting is kept; zero means three times
  // the interval the peer announces.
  // Anyone on a link can announce made-up node ids: at most this many peers
  // are kept (l2.maxPeers); nodes already known are still refreshed.
  static constexpr std::size_t default_max_peers = 1024;

  explicit PeerTable(std::chrono::seconds holdtime = {},
                     std::size_t max_peers = default_max_peers)
      : holdtime_(holdtime), max_peers_(max_peers) {}
  void set_holdtime(std::chrono::seconds holdtime) { holdtime_ = holdtime; }
  void set_max_peers(std::size_t max_peers) { max_peers_ = max_peers; }

  // Records an announcement heard on `interface` from `source`. O(log n).
  Change heard(const Announcement& a, const std::string& interface, const std::string& source,
               Clock::time_point now);

  // Drops the sightings silent for longer than their holdtime, and the peers
  // left with none.
  Expiry expire(Clock::time_point now);
  // When the next sighting falls silent for too long; nullopt with no peers.
  std::optional<Clock::time_point> next_expiry() const;

  // How long a sighting is kept after it was last heard.
  std::chrono::seconds holdtime_of(const Sighting& s) const;
  bool expired(const Sighting& s, Clock::time_point now) const {
    return now - s.last_heard > holdtime_of(s);
  }

  // The peers heard on some interface within the holdtime, ordered by id.
  std::vector<const Peer*> live(Clock::time_point now) const;

  // What the scanner gets: one candidate per address a peer announces on a
  // live sighting (or its link-local sources when it announces none), and
  // one link "" -> id per peer.
  Discovery discovery(Clock::time_point now) const;

  std::size_t size() const { return peers_.size(); }
  const Peer* find(const std::string& id) const {
    auto it = peers_.find(id);
    return it == peers_.end() ? nullptr : &it->second;
  }
  // Announcements of new nodes refused while the table was full.
  std::uint64_t refused() const { return refused_; }

 private:
  std::chrono::seconds holdtime_;
  std::size_t max_peers_;
  std::uint64_t refused_ = 0;
  std::map<std::string, Peer> peers_;  // by id
};

}  // namespace mnigs::l2
