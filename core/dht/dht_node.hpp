// An OpenDHT node inside mnigsd: joins the mnigs DHT (its own network id and
// UDP port), publishes this gateway's signed offer and listens for the
// offers of others, believing only those that pass check_offer_value.
//
// Threads: OpenDHT runs its own (one runs the DHT: protocol, timers and our
// callbacks; one receives UDP; a small pool resolves bootstrap names). Our
// callbacks on those threads only check values and bump atomic counters,
// then post the results to the executor given to the constructor, where the
// offer table is kept and the OffersCallback runs. They never take a lock
// that the executor side holds while calling into OpenDHT, so the two
// cannot deadlock.
//
// Call start, stop, publish, withdraw, listen and stop_listening from that
// executor (a strand if the io_context has several threads). node_id,
// status, offers and bootstrap may be called from any thread.
#pragma once

#include "dht/endpoint.hpp"
#include "dht/offer.hpp"
#include "dht/offer_table.hpp"
#include "dht/status.hpp"

#include <mnigs/log.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <json/value.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mnigs {

// The mnigs DHT's network id: the ASCII bytes "mnig" (0x6d6e6967). OpenDHT
// nodes ignore packets carrying another network id, so mnigs nodes never
// join the public OpenDHT network (id 0) or any other.
inline constexpr std::uint32_t mnigs_dht_network_id = 0x6d6e6967;

class DhtNode {
 public:
  // False in a build without OpenDHT (cmake -DMNIGS_DHT=OFF, dht_node_absent.cpp):
  // then constructing a node throws, and gateways are found by scans alone.
  static const bool built;

  struct Options {
    // Holds dht.key, dht.crt (the identity) and dht.nodes (routing table).
    std::filesystem::path data_dir;
    std::uint16_t port = default_dht_port;  // UDP, both families; 0 = any free port
    std::string bind4 = "0.0.0.0";          // IPv4 address to bind; "" = no IPv4
    std::string bind6 = "::";               // IPv6 address to bind; "" = no IPv6
    std::uint32_t network_id = mnigs_dht_network_id;
    // Nodes to join through, as parse_dht_endpoint takes them.
    std::vector<std::string> bootstrap;
    // How often endpoints to join through (these and those given to
    // bootstrap()) that the routing table does not hold are pinged again,
    // at most 16 at a time, these first; 0 = never. OpenDHT itself retries
    // them only while the node has no peer at all.
    std::chrono::seconds rejoin_interval{30};
    // Lifetime of each signed offer we publish; it is re-signed and put
    // again at half of it. From 10 s to 600 s (the DHT keeps values 600 s).
    std::chrono::seconds offer_ttl{600};
    // What OpenDHT may hold for other nodes, in bytes (its default is
    // 64 MiB, too much for a router), and how many distinct gateways'
    // offers we keep at most (more are ignored until some expire).
    std::size_t storage_limit = 4 << 20;
    std::size_t max_offers = OfferTable::default_max_nodes;
    std::shared_ptr<Logger> log;  // optional; thread-safe
  };

  // Offers that are new or changed (expired = false), or that are gone:
  // withdrawn, expired, or dropped by the DHT (expired = true). Runs on the
  // executor.
  using OffersCallback = std::function<void(std::vector<GatewayOffer> offers, bool expired)>;

  DhtNode(boost::asio::any_io_executor executor, Options options);
  ~DhtNode();  // stop()
  DhtNode(const DhtNode&) = delete;
  DhtNode& operator=(const DhtNode&) = delete;

  // Loads or creates the identity (a few seconds of CPU the first time),
  // binds the UDP port(s), restores the routing table from dht.nodes and
  // bootstraps. Throws std::runtime_error ("dht: ...") when the identity
  // cannot be loaded or no address can be bound. Blocking.
  void start();
  // Withdraws our offer (waiting at most 3 s for the DHT to take the
  // withdrawal), saves the routing table to dht.nodes, stops OpenDHT's
  // threads and forgets the offers heard (without calling the callback).
  // Blocking; idempotent.
  void stop();
  bool running() const;

  // Our identity id (GatewayOffer::node_id); "" before the first start().
  std::string node_id() const;

  // Adds a node to join through: pinged now, retried while we have no
  // peers, and every rejoin_interval while the routing table does not hold
  // it (IP literals only). Repeats of the same host and port are ignored.
  void bootstrap(const std::string& host, std::uint16_t port);

  // Publishes `offer` as ours: node_id and expires are filled in, then it is
  // signed and put; re-signed and put again every offer_ttl / 2 until
  // withdraw() or stop(). Call again when anything in it changes (e.g. the
  // load), preferably not more than once every few seconds. Before start()
  // it is kept and published on start. False with `why` when the offer is
  // not valid.
  bool publish(GatewayOffer offer, std::string* why = nullptr);
  // Replaces our offer in the DHT with a signed withdrawal and stops
  // refreshing it. No-op when nothing is published.
  void withdraw();

  // Listens for offers; `callback` replaces any earlier one. Before start()
  // it takes effect on start.
  void listen(OffersCallback callback);
  void stop_listening();

  // Verified offers known now, by node id (withdrawals and expired ones
  // removed).
  std::vector<GatewayOffer> offers() const;
  DhtStatus status() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mnigs
