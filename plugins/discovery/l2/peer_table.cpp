#include "peer_table.hpp"

#include <algorithm>

namespace mnigs::l2 {

PeerTable::Change PeerTable::heard(const Announcement& a, const std::string& interface,
                                   const std::string& source, Clock::time_point now) {
  if (peers_.size() >= max_peers_ && !peers_.count(a.node_id)) {
    ++refused_;
    return Change::refused;
  }
  auto [it, added] = peers_.try_emplace(a.node_id);
  Peer& p = it->second;
  if (added) {
    p.id = a.node_id;
    p.first_heard = now;
  }
  auto [at, fresh] = p.links.try_emplace(interface);
  Sighting& s = at->second;
  // The source matters only to a peer that announces no address; it may
  // change by itself (a link-local address leaving duplicate detection).
  const bool same =
      !fresh && s.addresses == a.addresses && (s.source == source || !a.addresses.empty());
  s.addresses = a.addresses;
  s.source = source;
  s.interval = a.interval;
  s.last_heard = now;
  if (added) return Change::added;
  if (fresh) return Change::new_link;
  return same ? Change::refreshed : Change::changed;
}

std::chrono::seconds PeerTable::holdtime_of(const Sighting& s) const {
  if (holdtime_.count() > 0) return holdtime_;
  // Three announcements in a row lost before a node is given up.
  return std::chrono::seconds(3 * s.interval);
}

PeerTable::Expiry PeerTable::expire(Clock::time_point now) {
  Expiry out;
  for (auto it = peers_.begin(); it != peers_.end();) {
    auto& links = it->second.links;
    const auto before = links.size();
    std::erase_if(links, [&](const auto& entry) { return expired(entry.second, now); });
    if (links.empty()) {
      out.gone.push_back(it->first);
      it = peers_.erase(it);
      continue;
    }
    out.changed |= links.size() != before;
    ++it;
  }
  return out;
}

std::optional<Clock::time_point> PeerTable::next_expiry() const {
  std::optional<Clock::time_point> next;
  for (const auto& [id, p] : peers_)
    for (const auto& [interface, s] : p.links) {
      auto at = s.last_heard + holdtime_of(s);
      if (!next || at < *next) next = at;
    }
  return next;
}

std::vector<const Peer*> PeerTable::live(Clock::time_point now) const {
  std::vector<const Peer*> out;
  for (const auto& [id, p] : peers_)
    if (std::any_of(p.links.begin(), p.links.end(),
                    [&](const auto& entry) { return !expired(entry.second, now); }))
      out.push_back(&p);
  return out;
}

Discovery PeerTable::discovery(Clock::time_point now) const {
  Discovery d;
  for (const Peer* p : live(now)) {
    std::vector<std::string> seen;
    auto add = [&](const std::string& address, const std::string& interface) {
      if (std::find(seen.begin(), seen.end(), address) != seen.end()) return;
      seen.push_back(address);
      Candidate c;
      c.address = address;
      c.detail = "l2 " + interface;
      c.node = p->id;
      c.distance = 1;  // heard on a link of ours: one hop
      d.candidates.push_back(std::move(c));
    };
    for (const auto& [interface, s] : p->links)
      if (!expired(s, now))
        for (const auto& address : s.addresses) add(address, interface);
    // Nothing announced: its link-local sources, with the zone to reach them.
    if (seen.empty())
      for (const auto& [interface, s] : p->links)
        if (!expired(s, now) && !s.source.empty()) add(s.source, interface);
    d.links.push_back(Link{"", p->id, 0});
  }
  return d;
}

}  // namespace mnigs::l2
