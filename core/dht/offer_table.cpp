#include "dht/offer_table.hpp"

#include <algorithm>

namespace mnigs {

bool OfferTable::is_newer(const HeardOffer& h, const Known& k) {
  return h.offer.expires != k.offer.expires ? h.offer.expires > k.offer.expires : h.seq > k.seq;
}

OfferTable::Changes OfferTable::apply(std::vector<HeardOffer> heard) {
  Changes out;
  for (auto& h : heard) {
    if (h.kind == HeardOffer::Kind::gone) {
      const auto it = offers_.find(h.node_id);
      if (it != offers_.end() && it->second.value_id == h.value_id && it->second.seq <= h.seq) {
        out.gone.push_back(std::move(it->second.offer));
        offers_.erase(it);
      }
      continue;
    }
    const std::string id = h.offer.node_id;
    const auto w = withdrawals_.find(id);
    if (w != withdrawals_.end() && !is_newer(h, w->second))
      continue;  // a copy older than the node's withdrawal
    const auto it = offers_.find(id);
    if (h.kind == HeardOffer::Kind::withdrawal) {
      if (withdrawals_.size() < max_nodes_ || withdrawals_.count(id))
        withdrawals_[id] = {h.offer, h.value_id, h.seq};
      if (it != offers_.end() && is_newer(h, it->second)) {
        out.gone.push_back(std::move(it->second.offer));
        offers_.erase(it);
      }
      continue;
    }
    if (it != offers_.end() && !is_newer(h, it->second)) continue;  // a copy we have
    if (it == offers_.end() && offers_.size() >= max_nodes_) {
      ++out.refused_full;
      continue;
    }
    out.changed.push_back(h.offer);
    offers_[id] = {std::move(h.offer), h.value_id, h.seq};
  }
  return out;
}

std::vector<GatewayOffer> OfferTable::expire(std::int64_t now,
                                             std::optional<std::int64_t>* next) {
  std::vector<GatewayOffer> gone;
  std::optional<std::int64_t> earliest;
  std::erase_if(withdrawals_, [now](const auto& w) { return w.second.offer.expires <= now; });
  for (auto it = offers_.begin(); it != offers_.end();) {
    if (it->second.offer.expires <= now) {
      gone.push_back(std::move(it->second.offer));
      it = offers_.erase(it);
    } else {
      earliest = std::min(earliest.value_or(it->second.offer.expires), it->second.offer.expires);
      ++it;
    }
  }
  if (next) *next = earliest;
  return gone;
}

std::vector<GatewayOffer> OfferTable::offers() const {
  std::vector<GatewayOffer> out;
  out.reserve(offers_.size());
  for (const auto& [id, known] : offers_) out.push_back(known.offer);
  return out;
}

void OfferTable::clear() {
  offers_.clear();
  withdrawals_.clear();
}

}  // namespace mnigs
