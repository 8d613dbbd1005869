// The offers a listening node believes, one per gateway (signer), and the
// withdrawals that must outlive the copies of an offer still stored in the
// DHT. Fed with values that already passed check_offer_value; decides which
// statement of a node is the newest, and when each lapses. No OpenDHT, no
// locking, no clock of its own: DhtNode holds it under its mutex and passes
// the time in.
#pragma once

#include "dht/offer.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mnigs {

// One checked value heard from the DHT.
struct HeardOffer {
  enum class Kind { offer, withdrawal, gone } kind = Kind::offer;
  GatewayOffer offer;   // offer, withdrawal
  std::string node_id;  // gone: the signer
  std::uint64_t value_id = 0;
  std::uint16_t seq = 0;
};

class OfferTable {
 public:
  // Offers (and withdrawals) kept from distinct nodes. Keys are cheap to
  // make, so a flood of valid offers from made-up nodes must not grow the
  // table without bound; a real mesh has far fewer gateways.
  static constexpr std::size_t default_max_nodes = 1024;

  explicit OfferTable(std::size_t max_nodes = default_max_nodes) : max_nodes_(max_nodes) {}

  struct Changes {
    std::vector<GatewayOffer> changed;  // new offers, or newer ones of a known node
    std::vector<GatewayOffer> gone;     // withdrawn, or dropped by the DHT
    std::size_t refused_full = 0;       // offers of new nodes while the table was full
  };
  // Newer means a later expiry (each signing puts it forward); within the
  // same second, the higher sequence number. A copy older than what is known
  // of its node (offer or withdrawal) changes nothing. "gone" removes the
  // offer only when it names the value we hold, at the same or a later
  // sequence number.
  Changes apply(std::vector<HeardOffer> heard);

  // Drops offers and withdrawals whose expiry is at or before `now`
  // (unix seconds); returns the offers dropped. `next` gets the earliest
  // expiry left among offers, or nullopt.
  std::vector<GatewayOffer> expire(std::int64_t now, std::optional<std::int64_t>* next);

  std::vector<GatewayOffer> offers() const;  // by node id
  std::size_t size() const { return offers_.size(); }
  // Forgets the offers; the withdrawals stay until they expire, so copies
  // of a withdrawn offer heard after a restart are still refused.
  void clear_offers() { offers_.clear(); }
  void clear();

 private:
  // The newest signed statement known from a node (offer or withdrawal).
  struct Known {
    GatewayOffer offer;
    std::uint64_t value_id = 0;
    std::uint16_t seq = 0;
  };
  static bool is_newer(const HeardOffer& h, const Known& k);

  std::size_t max_nodes_;
  std::map<std::string, Known> offers_;       // by node id
  std::map<std::string, Known> withdrawals_;  // by node id, until they expire
};

}  // namespace mnigs
