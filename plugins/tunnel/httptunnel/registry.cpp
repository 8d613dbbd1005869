#include "registry.hpp"

#include "link.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>

namespace mnigs::httptunnel {

Registry::Registry(Policy policy, std::size_t queue, Clock::duration forget_after)
    : policy_(policy), queue_limit_(queue), forget_after_(forget_after) {}

std::string Registry::digest(const std::string& secret) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), md);
  return link::to_hex(md);
}

void Registry::load_claims(std::map<std::string, std::string> claims) {
  claims_ = std::move(claims);
}

bool Registry::forget_claim(const std::string& key) {
  if (claims_.erase(key) == 0) return false;
  if (on_claims_changed) on_claims_changed();
  return true;
}

std::string Registry::refusal(const std::string& key, const std::string& secret) const {
  const char* what = key.starts_with("id:") ? "id" : "token";
  const auto claim = claims_.find(key);
  if (secret.empty()) {
    if (!wstunnel_clients_)
      return "this gateway takes no WStunnel clients (httptunnel.wstunnelClients is off)";
    if (claim != claims_.end())
      return "the token is bound to a secret; a client without it cannot hold it";
  } else if (claim != claims_.end()) {
    const std::string d = digest(secret);
    // Constant time: the digest is no secret, but nothing is gained by
    // telling how much of it matched.
    if (d.size() != claim->second.size() ||
        CRYPTO_memcmp(d.data(), claim->second.data(), d.size()) != 0)
      return "another secret holds this " + std::string(what);
  }
  const auto it = entries_.find(key);
  if (policy_ == Policy::reject && it != entries_.end() && !it->second.live.empty())
    return "a node holds this " + std::string(what) + " already (httptunnel.policy is reject)";
  return "";
}

std::string Registry::attach(const std::string& key, const std::string& secret,
                             Tunnel& tunnel, Clock::time_point now) {
  (void)now;
  {
    const auto it = entries_.find(key);
    if (it != entries_.end() &&
        std::find(it->second.live.begin(), it->second.live.end(), &tunnel) !=
            it->second.live.end())
      return "";
  }
  if (std::string why = refusal(key, secret); !why.empty()) return why;
  if (!secret.empty() && !claims_.count(key)) {
    claims_.emplace(key, digest(secret));
    if (on_claims_changed) on_claims_changed();
  }
  Entry& e = entries_[key];
  // A secret holds the key from now on: a WStunnel client that held it
  // without one does no longer.
  if (!secret.empty()) evict_secretless(e, "a secret now holds this token");
  e.live.push_back(&tunnel);
  if (secret.empty()) e.secretless.push_back(&tunnel);
  drain(e);
  return "";
}

void Registry::evict_secretless(Entry& e, const std::string& why) {
  if (e.secretless.empty()) return;
  auto gone = std::move(e.secretless);
  e.secretless.clear();
  for (Tunnel* t : gone) {
    const auto pos = std::find(e.live.begin(), e.live.end(), t);
    if (pos == e.live.end()) continue;
    const auto index = static_cast<std::size_t>(pos - e.live.begin());
    e.live.erase(pos);
    if (e.next > index) --e.next;
  }
  if (e.next >= e.live.size()) e.next = 0;
  if (on_evicted)
    for (Tunnel* t : gone) on_evicted(*t, why);
}

void Registry::set_wstunnel_clients(bool allowed) {
  wstunnel_clients_ = allowed;
  if (allowed) return;
  for (auto& [key, e] : entries_) {
    const bool had = !e.live.empty();
    evict_secretless(e, "this gateway takes no WStunnel clients any more");
    if (had && e.live.empty()) e.left = Clock::now();
  }
}

void Registry::detach(const std::string& key, Tunnel& tunnel, Clock::time_point now) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  const auto pos = std::find(e.live.begin(), e.live.end(), &tunnel);
  if (pos == e.live.end()) return;
  const auto index = static_cast<std::size_t>(pos - e.live.begin());
  e.live.erase(pos);
  std::erase(e.secretless, &tunnel);
  if (e.next > index) --e.next;
  if (e.live.empty()) {
    e.left = now;
    e.next = 0;
  }
}

Tunnel* Registry::pick(Entry& e) {
  if (e.live.empty()) return nullptr;
  if (policy_ != Policy::balance) {
    // failover (and reject, which holds one): the oldest with room.
    for (Tunnel* t : e.live)
      if (t->has_room()) return t;
    return nullptr;
  }
  for (std::size_t i = 0; i < e.live.size(); ++i) {
    const std::size_t at = (e.next + i) % e.live.size();
    if (e.live[at]->has_room()) {
      e.next = (at + 1) % e.live.size();
      return e.live[at];
    }
  }
  return nullptr;
}

void Registry::drain(Entry& e) {
  while (!e.waiting.empty()) {
    Tunnel* t = pick(e);
    if (!t) return;
    // Taken off the queue before it runs: the handoff may route again.
    Handoff h = std::move(e.waiting.front().handoff);
    e.waiting.pop_front();
    h(*t);
  }
}

Registry::Routed Registry::route(const std::string& key, Handoff handoff,
                                 Clock::time_point now) {
  if (!known(key, now)) return {Outcome::unknown, 0};
  Entry& e = entries_.find(key)->second;
  // Nobody overtakes those already waiting.
  if (e.waiting.empty())
    if (Tunnel* t = pick(e)) {
      handoff(*t);
      return {Outcome::sent, 0};
    }
  if (e.waiting.size() >= queue_limit_) return {Outcome::full, 0};
  const std::uint64_t ticket = next_ticket_++;
  e.waiting.push_back({ticket, std::move(handoff)});
  return {Outcome::queued, ticket};
}

bool Registry::known(const std::string& key, Clock::time_point now) const {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  const Entry& e = it->second;
  return !e.live.empty() || !e.waiting.empty() || now - e.left <= forget_after_;
}

void Registry::cancel(const std::string& key, std::uint64_t ticket) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return;
  auto& q = it->second.waiting;
  q.erase(std::remove_if(q.begin(), q.end(), [&](const Waiter& w) { return w.ticket == ticket; }),
          q.end());
}

void Registry::room(const std::string& key, Tunnel& tunnel) {
  (void)tunnel;
  const auto it = entries_.find(key);
  if (it != entries_.end()) drain(it->second);
}

Tunnel* Registry::holder(const std::string& key) const {
  const auto it = entries_.find(key);
  return it == entries_.end() || it->second.live.empty() ? nullptr : it->second.live.front();
}

std::size_t Registry::expire(Clock::time_point now) {
  std::size_t n = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    if (e.live.empty() && e.waiting.empty() && now - e.left > forget_after_) {
      it = entries_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

std::size_t Registry::tunnels() const {
  std::size_t n = 0;
  for (const auto& [key, e] : entries_) n += e.live.size();
  return n;
}

std::size_t Registry::waiting() const {
  std::size_t n = 0;
  for (const auto& [key, e] : entries_) n += e.waiting.size();
  return n;
}

std::size_t Registry::tunnels_of(const std::string& key) const {
  const auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.live.size();
}

std::string shown(const std::string& key) {
  return key.starts_with("token:") ? key.substr(0, 14) + "..." : key;
}

std::vector<Registry::KeyView> Registry::view() const {
  std::vector<KeyView> out;
  for (const auto& [key, e] : entries_) {
    KeyView v{key, {}, e.waiting.size(), claims_.count(key) > 0};
    for (const Tunnel* t : e.live) v.tunnels.push_back(t->describe());
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace mnigs::httptunnel
