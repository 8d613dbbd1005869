// DhtNode's implementation, shared by the files that define it:
// dht_node.cpp (start and stop, the routing table on disk, bootstrap and
// rejoining, OpenDHT's log, status), node_publish.cpp (our offer) and
// node_listen.cpp (the offers of others). Internal to core/dht; includes
// <opendht.h>, which is slow to compile, so nothing else includes this.
#pragma once

#include "dht/dht_node.hpp"
#include "dht/identity.hpp"
#include "dht/offer_table.hpp"
#include "dht/offer_value.hpp"

#include <opendht.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>

namespace mnigs {

// Offers we publish live at least this long (Options::offer_ttl).
inline constexpr std::chrono::seconds min_offer_ttl{10};

inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct DhtNode::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::any_io_executor executor, Options options)
      : ex_(std::move(executor)),
        opt_(std::move(options)),
        ttl_(std::clamp(opt_.offer_ttl, min_offer_ttl,
                        std::chrono::duration_cast<std::chrono::seconds>(offer_value_lifetime))),
        offers_(opt_.max_offers),
        refresh_timer_(ex_),
        expiry_timer_(ex_),
        rejoin_timer_(ex_) {}

  ~Impl() {
    // DhtNode's destructor stopped us; this only guards against OpenDHT's
    // threads outliving the members their callbacks use.
    if (runner_) runner_->join();
  }

  template <class... Args>
  void log(LogLevel level, Args&&... args) const {
    if (opt_.log) opt_.log->log(level, "dht: ", std::forward<Args>(args)...);
  }

  // ---- start and stop (executor) ----

  void start();
  std::unique_ptr<dht::DhtRunner> run_dht(const DhtIdentity& identity);
  void stop();

  // ---- the routing table on disk ----

  void save_nodes();
  void restore_nodes();

  // ---- bootstrap (any thread) ----

  bool remember_bootstrap(const std::string& host, std::uint16_t port);
  void bootstrap(const std::string& host, std::uint16_t port);

  // ---- rejoining (executor) ----

  void schedule_rejoin();
  void rejoin();
  void follow_growth();

  // ---- publishing (executor) ----

  bool publish(GatewayOffer offer, std::string* why);
  void put_offer();
  void schedule_refresh(std::chrono::steady_clock::duration after);
  void sign_and_put(const GatewayOffer& offer, std::function<void(bool)> done);
  void new_value_id();
  void withdraw(bool wait);

  // ---- listening ----

  void listen(OffersCallback callback);
  void start_listen();
  void cancel_listen();
  bool heard(const std::vector<std::shared_ptr<dht::Value>>& values, bool expired);
  void apply(std::vector<HeardOffer> heard);
  void expire_offers();
  void notify(std::vector<GatewayOffer> offers, bool expired);

  // ---- counters and OpenDHT's log (DHT threads) ----

  void count(OfferVerdict verdict);
  std::shared_ptr<dht::Logger> make_dht_logger();

  // ---- status (any thread) ----

  DhtStatus status() const;
  std::vector<GatewayOffer> offers() const;

  // ---- fixed at construction ----
  const boost::asio::any_io_executor ex_;
  const Options opt_;
  const std::chrono::seconds ttl_;

  // ---- guarded by mutex_ (read from any thread). Never held by a DHT
  // thread: OpenDHT calls us with its own lock held. ----
  mutable std::mutex mutex_;
  std::unique_ptr<dht::DhtRunner> runner_;
  std::string node_id_;
  OfferTable offers_;
  std::set<std::pair<std::string, std::uint16_t>> bootstrap_;

  // ---- executor only ----
  std::optional<GatewayOffer> published_;    // as given to publish()
  std::optional<GatewayOffer> last_signed_;  // what the DHT holds from us
  dht::Value::Id value_id_ = 0;
  std::uint16_t next_seq_ = 0;
  OffersCallback callback_;
  std::optional<std::shared_future<std::size_t>> listen_token_;
  boost::asio::steady_timer refresh_timer_;
  bool refresh_armed_ = false;
  boost::asio::system_timer expiry_timer_;
  boost::asio::steady_timer rejoin_timer_;
  std::set<std::pair<std::string, std::uint16_t>> configured_;  // from Options::bootstrap
  std::pair<std::string, std::uint16_t> rejoin_cursor_;         // last endpoint rejoin() saw
  std::size_t most_good_nodes_ = 0;  // the routing table's high-water mark (follow_growth)

  // ---- atomics: written by DHT threads or read by status() ----
  std::atomic<bool> running_{false}, listening_{false}, publishing_{false};
  std::atomic<std::int64_t> published_expires_{0};
  std::atomic<std::uint64_t> puts_ok_{0}, puts_failed_{0};
  std::atomic<bool> last_put_ok_{true};
  std::atomic<std::uint64_t> unsigned_{0}, bad_signature_{0}, forged_{0}, expired_{0},
      malformed_{0};
};

}  // namespace mnigs
