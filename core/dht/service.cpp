#include "dht/service.hpp"

#include "gateway/sessions.hpp"
#include "gateways/gateway_list.hpp"
#include "os/interfaces.hpp"
#include "plugin_host/host.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "util/guarded_loop.hpp"
#include "util/json_text.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <future>
#include <set>

namespace mnigs {

namespace {

using namespace std::chrono_literals;

// The offer is rebuilt this often (load, suites, addresses may change);
// DhtNode puts it again only when something changed, and re-signs it by
// itself before it expires.
constexpr auto refresh_interval = 15s;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

DhtService::DhtService(boost::asio::io_context& io, const ConfigHolder& config, Store& store,
                           PluginHost& plugins, SessionManager& sessions)
    : io_(io),
      config_(config),
      store_(store),
      plugins_(plugins),
      sessions_(sessions),
      strand_(boost::asio::make_strand(io)),
      refresh_timer_(strand_) {}

DhtService::~DhtService() { stop(); }

void DhtService::start() {
  auto config = config_.get();
  // Offers heard by an earlier run may have been withdrawn since: hear them anew.
  store_.post([](sqlite3* db) { exec(db, "DELETE FROM dht_offers"); });
  if (!config->get_bool("dht", "enabled")) {
    std::lock_guard lock(error_mutex_);
    error_ = "dht.enabled is false";
    return;
  }
  if (!DhtNode::built) {
    std::lock_guard lock(error_mutex_);
    error_ = "this mnigsd was built without the DHT (cmake -DMNIGS_DHT=OFF)";
    log_.warn(error_, "; gateways are found by scans alone (set dht.enabled: false)");
    return;
  }
  DhtNode::Options options;
  options.data_dir = config->data_dir();
  port_ = static_cast<std::uint16_t>(config->get_int("dht", "port"));
  options.port = port_;
  options.bind4 = config->get_string("daemon", "listenIpv4");
  options.bind6 = config->get_string("daemon", "listenIpv6");
  options.bootstrap = config->get_list("dht", "bootstrap");
  options.storage_limit = static_cast<std::size_t>(config->get_int("dht", "storageLimit"));
  options.max_offers = static_cast<std::size_t>(config->get_int("dht", "maxOffers"));
  options.log = std::make_shared<StderrLogger>("dht");
  node_ = std::make_unique<DhtNode>(dht_io_.get_executor(), options);

  thread_ = std::thread([this] {
    auto work = boost::asio::make_work_guard(dht_io_);
    boost::asio::post(dht_io_, [this] {
      try {
        node_->start();
        node_->listen([this](std::vector<GatewayOffer> offers, bool expired) {
          on_offers(std::move(offers), expired);
        });
        std::set<std::pair<std::string, std::uint16_t>> pending;
        {
          std::lock_guard lock(error_mutex_);
          running_ = true;
          pending.swap(pending_);
        }
        for (const auto& [address, port] : pending) node_->bootstrap(address, port);
        log_.info("DHT node ", node_->node_id().substr(0, 16), "… on UDP port ", port_);
        boost::asio::post(strand_, [this] { refresh(); });
      } catch (const std::exception& e) {
        std::lock_guard lock(error_mutex_);
        error_ = e.what();
        log_.error(e.what(), "; running without the DHT");
      }
    });
    run_guarded(dht_io_, [this](const std::string& what) {
      log_.error("internal error on the DHT thread: ", what);
    });
  });
}

void DhtService::stop() {
  if (!thread_.joinable()) return;
  running_ = false;
  // The node's stop() withdraws our offer and saves the routing table.
  std::promise<void> stopped;
  boost::asio::post(dht_io_, [this, &stopped] {
    node_->stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  dht_io_.stop();
  thread_.join();
}

void DhtService::gateway_changed() {
  boost::asio::post(strand_, [this] {
    if (running_) refresh();
  });
}

void DhtService::bootstrap(const std::string& address, std::uint16_t port) {
  if (!node_) return;
  if (port == 0) port = port_;
  {
    // Until the node runs (its identity may still be being created), keep
    // the addresses; start() hands them over.
    std::lock_guard lock(error_mutex_);
    if (!running_) {
      if (pending_.size() < 1024) pending_.emplace(address, port);
      return;
    }
  }
  node_->bootstrap(address, port);  // thread-safe; repeats are ignored
}

Json::Value DhtService::node_info() const {
  if (!running_) return Json::Value();
  Json::Value v(Json::objectValue);
  v["id"] = node_->node_id();
  v["port"] = port_;
  return v;
}

void DhtService::status(std::function<void(Json::Value)> done) const {
  if (!node_) {
    Json::Value v(Json::objectValue);
    v["running"] = false;
    std::lock_guard lock(error_mutex_);
    v["error"] = error_;
    v["list"] = Json::Value(Json::arrayValue);
    return done(v);
  }
  Json::Value v = to_json(node_->status());
  {
    std::lock_guard lock(error_mutex_);
    v["error"] = error_;
  }
  Json::Value list(Json::arrayValue);
  for (const auto& o : node_->offers()) list.append(offer_to_json(o));
  v["list"] = list;
  done(v);
}

void DhtService::refresh() {
  refresh_timer_.expires_after(refresh_interval);
  refresh_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && running_) refresh();
  });
  auto config = config_.get();
  const bool uplink = !uplink_up_ || uplink_up_();
  if (!config->get_bool("gateway", "enabled") || !uplink) {
    if (published_) {
      published_ = false;
      log_.info(uplink ? "gateway disabled" : "uplink down", ": offer withdrawn from the DHT");
      boost::asio::post(dht_io_, [this] { node_->withdraw(); });
    }
    return;
  }
  // What a subscriber needs to pick this gateway without asking it first.
  GatewayOffer offer;
  offer.name = node_name(*config);
  offer.addresses = os::routable_addresses();
  if (offer.addresses.size() > 16) offer.addresses.resize(16);
  offer.rpc_port = static_cast<std::uint16_t>(config->get_int("daemon", "rpcport"));
  const auto payments = config->get_list("gateway", "payments");
  offer.suites = plugins_.offered_suites(payments);
  offer.max_connections = static_cast<std::uint32_t>(config->get_int("gateway", "maxConnections"));
  offer.ipv6 = !config->get_string("daemon", "listenIpv6").empty() && os::has_routable_ipv6();
  plugins_.payment_terms(payments, [this, offer](Json::Value terms) mutable {
    if (auto cheapest = cheapest_price(terms)) {
      offer.price = cheapest->price.asDouble();
      offer.currency = cheapest->currency;
    }
    offer.payment_required = only_paid_access(terms);
    bool vouchers = terms.isObject() && !terms.empty();
    for (const auto& method : terms.getMemberNames()) {
      const Json::Value& t = terms[method];
      if (t["pricePerGB"].isNumeric() && t["pricePerGB"].asDouble() > 0 &&
          (offer.price_per_gb == 0 || t["pricePerGB"].asDouble() < offer.price_per_gb))
        offer.price_per_gb = t["pricePerGB"].asDouble();
      vouchers = vouchers && t["voucherOnly"].isBool() && t["voucherOnly"].asBool();
    }
    offer.voucher_only = vouchers;
    // What subscribers pin the tunnels' gateway ends by, signed with the rest.
    plugins_.tunnel_keys(offer.suites, [this, offer](auto keys) mutable {
      offer.keys = std::move(keys);
      // And the services it offers beside the suites (an HTTP tunnel's front).
      plugins_.services([this, offer](auto services) mutable {
        offer.services = std::move(services);
        sessions_.list([this, offer](Json::Value sessions) mutable {
          offer.sessions = sessions.size();
          boost::asio::post(strand_, [this, offer] { publish(offer); });
        });
      });
    });
  });
}

void DhtService::publish(GatewayOffer offer) {
  if (!running_ || !config_.get()->get_bool("gateway", "enabled")) return;
  if (uplink_up_ && !uplink_up_()) return;
  if (offer.suites.empty()) {
    log_.debug("no suites to offer yet; not publishing");
    return;
  }
  if (!published_) log_.info("publishing this gateway's offer in the DHT");
  published_ = true;
  boost::asio::post(dht_io_, [this, offer] {
    std::string why;
    if (!node_->publish(offer, &why)) log_.warn("offer not published: ", why);
  });
}

void DhtService::on_offers(std::vector<GatewayOffer> offers, bool expired) {
  // On the DHT thread: hand the verified offers to the store.
  const std::int64_t now = unix_now();
  store_.post([offers = std::move(offers), expired, now](sqlite3* db) {
    Transaction tx(db);
    if (expired) {
      Statement del(db, "DELETE FROM dht_offers WHERE node_id = ?");
      for (const auto& o : offers) {
        del.reset();
        del.bind_text(1, o.node_id);
        del.step();
      }
    } else {
      Statement put(db,
                    "INSERT OR REPLACE INTO dht_offers (node_id, offer, received, expires) "
                    "VALUES (?, ?, ?, ?)");
      for (const auto& o : offers) {
        put.reset();
        put.bind_text(1, o.node_id)
            .bind_text(2, to_json_text(offer_to_json(o)))
            .bind_int64(3, now)
            .bind_int64(4, o.expires);
        put.step();
      }
    }
    tx.commit();
  });
}

}  // namespace mnigs
