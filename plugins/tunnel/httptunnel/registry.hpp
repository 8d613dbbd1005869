// The gateway's table of tunnels: which connected node answers for which
// token or id, who may hold one, and the requests waiting while none is
// connected. Pure logic (time is passed in); the front and the tunnel
// connections call it from the data thread only.
//
// Keys are "token:<token>" (WStunnel's rendez-vous token) and "id:<id>"
// (a node's named services). A key is bound to the first secret that held
// it (its SHA-256 digest is kept, and saved by the owner through
// on_claims_changed), so a second node with the same token or id but
// another secret is refused rather than taking the requests. WStunnel's
// clients have no secret (""): they may hold a key nobody bound to a
// secret, when the gateway allows them at all.
//
// Several nodes with the key and the secret: the policy says whether the
// second is refused, waits as a standby, or shares the requests.
//
// A key is known while a node holds it and for `forget_after` since the
// last one left: requests for it wait (at most `queue` of them) for a node
// to come back; requests for a key not known get 404 at once.
#pragma once

#include "channel.hpp"
#include "settings.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mnigs::httptunnel {

// A node's connection as the registry sees it.
class Tunnel {
 public:
  virtual ~Tunnel() = default;
  // Whether it takes one more request now (an HTTP/2 connection has a limit
  // on concurrent streams; a WStunnel connection takes any number).
  virtual bool has_room() const = 0;
  // For status and logs: "10.0.0.2:41234 wstunnel".
  virtual std::string describe() const = 0;
  // A channel for one request; `events` run on the data thread. Fails
  // through events.on_failed (unseen) when the tunnel cannot take it.
  virtual std::unique_ptr<Channel> open(const ChannelRequest& request,
                                        Channel::Events events) = 0;
  // The services it offers (named services; empty for a token tunnel).
  virtual std::vector<std::string> services() const { return {}; }
  // Whether a request can switch protocols through it (a WebSocket to a
  // service): the request stays open until the answer's head. WStunnel's
  // links cannot: their answer comes only after the whole request.
  virtual bool carries_upgrades() const { return true; }
};

// A key as logs and status show it: a token is a secret to those who make
// requests, so only "token:" and its first 8 characters show, then "...".
std::string shown(const std::string& key);

class Registry {
 public:
  using Clock = std::chrono::steady_clock;
  // A waiting request's continuation: gets the tunnel to use.
  using Handoff = std::function<void(Tunnel&)>;

  Registry(Policy policy, std::size_t queue, Clock::duration forget_after);

  // Loaded and saved by the owner: key → SHA-256 digest of its secret (hex).
  void load_claims(std::map<std::string, std::string> claims);
  const std::map<std::string, std::string>& claims() const { return claims_; }
  // An operator lets `key` go (a node lost its secret): the next secret to
  // hold it binds it. Nodes connected now keep it until they leave. False
  // when no secret held it.
  bool forget_claim(const std::string& key);
  std::function<void()> on_claims_changed;
  // A link without a secret is let go: a secret now binds its token, or
  // WStunnel clients are no longer taken. The registry has forgotten it
  // already; the owner closes it.
  std::function<void(Tunnel&, const std::string& why)> on_evicted;

  void set_policy(Policy p) { policy_ = p; }
  void set_queue(std::size_t n) { queue_limit_ = n; }
  void set_wstunnel_clients(bool allowed);

  // A node connects holding `key` with `secret` ("" for a WStunnel
  // client). "" when it is admitted; else a sentence why not. Waiting
  // requests go to it at once.
  std::string attach(const std::string& key, const std::string& secret, Tunnel& tunnel,
                     Clock::time_point now);
  // Why attach(key, secret, ...) would refuse a new node now, or "";
  // changes nothing.
  std::string refusal(const std::string& key, const std::string& secret) const;
  // The node left (or was dropped). No request is handed to it afterwards.
  void detach(const std::string& key, Tunnel& tunnel, Clock::time_point now);

  enum class Outcome {
    sent,     // `handoff` ran with a tunnel
    queued,   // it waits: cancel(ticket) when it gives up
    unknown,  // no node holds the key, nor did within forget_after: 404
    full,     // the key's queue is full: 504
  };
  struct Routed {
    Outcome outcome = Outcome::unknown;
    std::uint64_t ticket = 0;  // for cancel(), when queued
  };
  // Where a request for `key` goes. `handoff` runs now (sent) or when a node
  // with room comes (queued), once, unless cancelled first.
  Routed route(const std::string& key, Handoff handoff, Clock::time_point now);
  // The waiting request gives up (timed out, or its client went away).
  void cancel(const std::string& key, std::uint64_t ticket);
  // A tunnel has room again: the key's waiting requests go to it.
  void room(const std::string& key, Tunnel& tunnel);

  // A tunnel that holds `key` now, room or not; nullptr when none does.
  Tunnel* holder(const std::string& key) const;

  // Forgets keys whose last node left more than forget_after ago and that
  // have nothing waiting; returns how many.
  std::size_t expire(Clock::time_point now);

  // Whether a node holds `key`, or did within forget_after: route() does
  // not answer unknown.
  bool known(const std::string& key, Clock::time_point now) const;
  std::size_t tunnels() const;          // connected nodes' tunnels, all keys
  std::size_t waiting() const;          // requests waiting, all keys
  std::size_t tunnels_of(const std::string& key) const;
  // For status: each known key with its tunnels and waiting requests.
  struct KeyView {
    std::string key;
    std::vector<std::string> tunnels;
    std::size_t waiting = 0;
    bool bound = false;  // a secret holds the key
  };
  std::vector<KeyView> view() const;

  // SHA-256 of `secret`, lowercase hex.
  static std::string digest(const std::string& secret);

 private:
  struct Waiter {
    std::uint64_t ticket;
    Handoff handoff;
  };
  struct Entry {
    std::vector<Tunnel*> live;  // in order of arrival
    std::vector<Tunnel*> secretless;  // those of live that hold no secret (WStunnel)
    std::size_t next = 0;       // balance: the next to use
    std::deque<Waiter> waiting;
    Clock::time_point left{};  // when the last node left
  };
  Tunnel* pick(Entry& e);
  // Lets the entry's links without a secret go (on_evicted), with `why`.
  void evict_secretless(Entry& e, const std::string& why);
  void drain(Entry& e);

  Policy policy_;
  std::size_t queue_limit_;
  Clock::duration forget_after_;
  bool wstunnel_clients_ = true;
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> claims_;
  std::uint64_t next_ticket_ = 1;
};

}  // namespace mnigs::httptunnel
