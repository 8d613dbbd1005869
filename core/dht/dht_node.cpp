// The only file of mnigs that includes <opendht.h> (slow to compile).
#include "dht/dht_node.hpp"

#include "dht/identity.hpp"
#include "dht/offer_value.hpp"
#include "util/atomic_file.hpp"
#include "util/host_port.hpp"

#include <opendht.h>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_timer.hpp>

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

namespace mnigs {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The routing table saved at stop, read at start.
constexpr const char* nodes_file = "dht.nodes";
constexpr std::uintmax_t max_nodes_file_bytes = 1 << 20;
// How long stop() waits for the DHT to take our withdrawal.
constexpr auto withdraw_wait = 3s;
// A failed put is tried again this soon rather than at the next refresh
// (typically: published before any peer was reachable).
constexpr auto put_retry = 10s;
constexpr std::chrono::seconds min_offer_ttl{10};
// Distinct bootstrap endpoints remembered (scans report the same ones again
// and again).
constexpr std::size_t max_bootstrap_endpoints = 1024;
// Remembered endpoints pinged again per Options::rejoin_interval, at most.
constexpr std::size_t max_rejoin_pings = 16;
// Offers (and withdrawals) kept from distinct nodes. Keys are cheap to make,
// so a flood of valid offers from made-up nodes must not grow the table
// without bound; a real mesh has far fewer gateways.
constexpr std::size_t max_known_nodes = 4096;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// OpenDHT logs printf-style.
std::string format_log(const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  char small[512];
  const int n = std::vsnprintf(small, sizeof small, format, copy);
  va_end(copy);
  if (n < 0) return format;
  if (static_cast<std::size_t>(n) < sizeof small)
    return std::string(small, static_cast<std::size_t>(n));
  std::string out(static_cast<std::size_t>(n) + 1, '\0');
  std::vsnprintf(out.data(), out.size(), format, args);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string without_trailing_newlines(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

bool starts_with(const char* text, std::string_view prefix) {
  return text && std::string_view(text).substr(0, prefix.size()) == prefix;
}

dht::SockAddr bind_address(const std::string& text, std::uint16_t port, bool v6) {
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(text, ec);
  if (ec || addr.is_v6() != v6)
    throw std::runtime_error("dht: bind address \"" + text + "\" is not an IPv" +
                             (v6 ? "6" : "4") + " address");
  const boost::asio::ip::udp::endpoint endpoint(addr, port);
  return dht::SockAddr(endpoint.data(), static_cast<socklen_t>(endpoint.size()));
}

std::string endpoint_key(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// An endpoint given as an IP literal; nullopt for a host name.
std::optional<boost::asio::ip::udp::endpoint> literal_endpoint(const std::string& host,
                                                               std::uint16_t port) {
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  return boost::asio::ip::udp::endpoint(addr, port);
}

}  // namespace

std::optional<std::pair<std::string, std::uint16_t>> parse_dht_endpoint(
    std::string_view text, std::uint16_t default_port, std::string* why) {
  auto parsed = parse_host_port(
      text, {.default_port = default_port, .bare_ipv6 = true, .names = true}, why);
  if (!parsed) return std::nullopt;
  return std::make_pair(std::move(parsed->host), parsed->port);
}

Json::Value to_json(const DhtStatus& s) {
  Json::Value out(Json::objectValue);
  out["running"] = s.running;
  out["nodeId"] = s.node_id;
  out["routingId"] = s.routing_id;
  out["networkId"] = s.network_id;
  out["port4"] = s.port4;
  out["port6"] = s.port6;
  out["peers"]["ipv4"]["good"] = s.good4;
  out["peers"]["ipv4"]["dubious"] = s.dubious4;
  out["peers"]["ipv6"]["good"] = s.good6;
  out["peers"]["ipv6"]["dubious"] = s.dubious6;
  out["listening"] = s.listening;
  out["offers"] = Json::UInt64(s.offers);
  out["publishing"] = s.publishing;
  out["publishedExpires"] = Json::Int64(s.published_expires);
  out["puts"]["ok"] = Json::UInt64(s.puts_ok);
  out["puts"]["failed"] = Json::UInt64(s.puts_failed);
  out["dropped"]["unsigned"] = Json::UInt64(s.dropped.unsigned_values);
  out["dropped"]["badSignature"] = Json::UInt64(s.dropped.bad_signature);
  out["dropped"]["forged"] = Json::UInt64(s.dropped.forged);
  out["dropped"]["expired"] = Json::UInt64(s.dropped.expired);
  out["dropped"]["malformed"] = Json::UInt64(s.dropped.malformed);
  return out;
}

struct DhtNode::Impl : std::enable_shared_from_this<Impl> {
  // What a DHT thread heard, handed to the executor.
  struct Heard {
    enum class Kind { offer, withdrawal, gone } kind;
    GatewayOffer offer;   // offer, withdrawal
    std::string node_id;  // gone: the signer
    dht::Value::Id value_id = 0;
    std::uint16_t seq = 0;
  };
  // The newest signed statement known from a node (offer or withdrawal).
  struct Known {
    GatewayOffer offer;
    dht::Value::Id value_id = 0;
    std::uint16_t seq = 0;
  };

  Impl(boost::asio::any_io_executor executor, Options options)
      : ex_(std::move(executor)),
        opt_(std::move(options)),
        ttl_(std::clamp(opt_.offer_ttl, min_offer_ttl,
                        std::chrono::duration_cast<std::chrono::seconds>(offer_value_lifetime))),
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

  void start() {
    if (running_) return;
    std::error_code ec;
    fs::create_directories(opt_.data_dir, ec);
    if (ec)
      throw std::runtime_error("dht: cannot create " + opt_.data_dir.string() + ": " +
                               ec.message());
    const auto began = std::chrono::steady_clock::now();
    DhtIdentity identity = load_or_create_identity(opt_.data_dir);
    if (identity.created)
      log(LogLevel::info, "created a new identity in ", (opt_.data_dir / dht_key_file).string(),
          " (", std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count(),
          " s)");
    for (const auto& note : identity.notes) log(LogLevel::warn, note);

    auto runner = run_dht(identity);
    {
      std::lock_guard lock(mutex_);
      runner_ = std::move(runner);
      node_id_ = identity_id(identity.pair.first->getPublicKey());
    }
    running_ = true;
    log(LogLevel::info, "node ", node_id_, " on UDP port ", runner_->getBoundPort(AF_INET), "/",
        runner_->getBoundPort(AF_INET6), " (IPv4/IPv6), network id ", opt_.network_id);
    restore_nodes();
    for (const auto& entry : opt_.bootstrap) {
      std::string why;
      if (auto endpoint = parse_dht_endpoint(entry, default_dht_port, &why)) {
        remember_bootstrap(endpoint->first, endpoint->second);
        configured_.insert(*endpoint);
      } else
        log(LogLevel::warn, "ignoring bootstrap node ", why);
    }
    {
      std::lock_guard lock(mutex_);
      for (const auto& [host, port] : bootstrap_) runner_->bootstrap(host, std::to_string(port));
    }
    if (callback_) start_listen();
    if (published_) put_offer();
    schedule_rejoin();
  }

  // Binds and starts OpenDHT's threads; throws when no family could bind.
  std::unique_ptr<dht::DhtRunner> run_dht(const DhtIdentity& identity) {
    dht::DhtRunner::Config config;
    config.dht_config.node_config.network = opt_.network_id;
    config.dht_config.id = identity.pair;
    config.threaded = true;
    const bool want4 = !opt_.bind4.empty(), want6 = !opt_.bind6.empty();
    if (!want4 && !want6)
      throw std::runtime_error("dht: neither an IPv4 nor an IPv6 address to bind");
    if (want4) config.bind4 = bind_address(opt_.bind4, opt_.port, false);
    if (want6) config.bind6 = bind_address(opt_.bind6, opt_.port, true);
    dht::DhtRunner::Context context;
    context.logger = make_dht_logger();

    const std::string cannot_bind = "dht: cannot bind UDP port " + std::to_string(opt_.port) +
                                    " on " + (want4 ? opt_.bind4 : "") +
                                    (want4 && want6 ? " or " : "") + (want6 ? opt_.bind6 : "") +
                                    " (port in use, or address not on this host)";
    auto runner = std::make_unique<dht::DhtRunner>();
    try {
      // Creating the sockets is what fails here.
      runner->run(config, std::move(context));
    } catch (const std::exception& e) {
      throw std::runtime_error(cannot_bind + ": " + e.what());
    }
    // When one family binds and the other does not, OpenDHT does not throw:
    // it runs without the failed one.
    const bool got4 = want4 && runner->getBoundPort(AF_INET) != 0;
    const bool got6 = want6 && runner->getBoundPort(AF_INET6) != 0;
    if (!got4 && !got6) {
      runner->join();
      throw std::runtime_error(cannot_bind);
    }
    if (want4 && !got4)
      log(LogLevel::warn, "cannot bind UDP port ", opt_.port, " on ", opt_.bind4,
          "; running on IPv6 only");
    if (want6 && !got6)
      log(LogLevel::warn, "cannot bind UDP port ", opt_.port, " on ", opt_.bind6,
          "; running on IPv4 only");
    runner->registerType(offer_value_type([this](OfferVerdict v) { count(v); }));
    return runner;
  }

  void stop() {
    if (!running_) return;
    withdraw(true);
    cancel_listen();
    refresh_timer_.cancel();
    expiry_timer_.cancel();
    rejoin_timer_.cancel();
    save_nodes();
    std::unique_ptr<dht::DhtRunner> runner;
    {
      std::lock_guard lock(mutex_);
      runner = std::move(runner_);
      offers_.clear();
    }
    running_ = false;
    // After join() OpenDHT calls nothing of ours; posted handlers see
    // running_ == false and do nothing.
    runner->join();
    log(LogLevel::info, "stopped");
  }

  // ---- the routing table on disk ----

  void save_nodes() {
    const auto nodes = runner_->exportNodes();
    if (nodes.empty()) return;  // keep what an earlier run knew
    msgpack::sbuffer buffer;
    msgpack::pack(buffer, nodes);
    try {
      write_file_atomic(opt_.data_dir / nodes_file, std::string_view(buffer.data(), buffer.size()),
                        {.mode = 0600});
      log(LogLevel::debug, "saved ", nodes.size(), " nodes to ", nodes_file);
    } catch (const std::exception& e) {
      log(LogLevel::warn, e.what());
    }
  }

  void restore_nodes() {
    const fs::path path = opt_.data_dir / nodes_file;
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) return;  // first start
    try {
      if (size > max_nodes_file_bytes) throw std::runtime_error("too large");
      std::ifstream in(path, std::ios::binary);
      const std::string data((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      const auto handle = msgpack::unpack(data.data(), data.size());
      auto nodes = handle.get().as<std::vector<dht::NodeExport>>();
      // Only well-formed addresses of a family we run.
      std::erase_if(nodes, [](const dht::NodeExport& n) {
        const auto family = n.ss.ss_family;
        return !((family == AF_INET && n.sslen == sizeof(sockaddr_in)) ||
                 (family == AF_INET6 && n.sslen == sizeof(sockaddr_in6)));
      });
      log(LogLevel::info, "rejoining through ", nodes.size(), " nodes from ", nodes_file);
      runner_->bootstrap(std::move(nodes));
    } catch (const std::exception& e) {
      log(LogLevel::warn, "ignoring ", path.string(), ": ", e.what());
    }
  }

  // ---- bootstrap (any thread) ----

  // Records the endpoint; true when it is new.
  bool remember_bootstrap(const std::string& host, std::uint16_t port) {
    std::lock_guard lock(mutex_);
    if (bootstrap_.size() >= max_bootstrap_endpoints) return false;
    return bootstrap_.emplace(host, port).second;
  }

  void bootstrap(const std::string& host, std::uint16_t port) {
    if (!remember_bootstrap(host, port)) return;
    std::lock_guard lock(mutex_);
    if (runner_) runner_->bootstrap(host, std::to_string(port));
    log(LogLevel::debug, "bootstrapping through ", endpoint_key(host, port));
  }

  // ---- rejoining (executor) ----

  // OpenDHT pings its bootstrap list again only while the node has no peer
  // at all. A node that was not up yet when we pinged it, and that nobody
  // else knows of, would never be joined once we have other peers; nor
  // would the other side of a mesh that was split for a while. So every
  // rejoin_interval, remembered endpoints that the routing table does not
  // hold are pinged again: the configured ones first, then those discovery
  // and scans reported, in turns, at most max_rejoin_pings in all. Host
  // names are left to OpenDHT (resolving them would block here).
  void schedule_rejoin() {
    if (opt_.rejoin_interval.count() <= 0 || !running_) return;
    rejoin_timer_.expires_after(opt_.rejoin_interval);
    rejoin_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && self->running_) {
        self->rejoin();
        self->follow_growth();
        self->schedule_rejoin();
      }
    });
  }

  void rejoin() {
    using boost::asio::ip::udp;
    std::set<udp::endpoint> known;
    std::vector<std::pair<std::string, std::uint16_t>> remembered;
    {
      std::lock_guard lock(mutex_);
      for (const auto& n : runner_->exportNodes()) {
        udp::endpoint e;
        if (n.sslen == 0 || n.sslen > e.capacity()) continue;
        std::memcpy(e.data(), &n.ss, n.sslen);
        e.resize(n.sslen);
        known.insert(e);
      }
      remembered.assign(bootstrap_.begin(), bootstrap_.end());
    }
    std::vector<udp::endpoint> ping;
    auto consider = [&](const std::pair<std::string, std::uint16_t>& entry) {
      const auto e = literal_endpoint(entry.first, entry.second);
      if (e && !known.count(*e) && std::find(ping.begin(), ping.end(), *e) == ping.end())
        ping.push_back(*e);
      return ping.size() < max_rejoin_pings;
    };
    bool room = true;
    for (const auto& entry : configured_)
      if (room) room = consider(entry);
    // The others in turns, from where the last round stopped.
    const auto start = std::upper_bound(remembered.begin(), remembered.end(), rejoin_cursor_);
    for (std::size_t i = 0; room && i < remembered.size(); ++i) {
      auto it = start + static_cast<std::ptrdiff_t>(i);
      if (it >= remembered.end()) it -= static_cast<std::ptrdiff_t>(remembered.size());
      if (configured_.count(*it)) continue;
      room = consider(*it);
      rejoin_cursor_ = *it;
    }
    if (ping.empty()) return;
    log(LogLevel::debug, "pinging ", ping.size(),
        " bootstrap node(s) again that the routing table does not hold");
    for (const auto& e : ping)
      runner_->bootstrap(dht::SockAddr(e.data(), static_cast<socklen_t>(e.size())));
  }

  // The DHT stores a value at the nodes nearest its key that the putter
  // knows when it puts, and a listener listens at the nearest it knows. While
  // the DHT of a mesh is still forming (nodes joining along a chain, two
  // parts of a mesh joining up), the two views differ: the offer sits at
  // nodes that are no longer the nearest, and listeners would not hear of it
  // before the next refresh, ttl/2 on. So whenever our routing table holds
  // more nodes than it ever did, our offer is put again (it lands at the
  // nearest nodes we now know) and the key is asked for once (a get reaches
  // more nodes than the listen does). A table that stopped growing costs
  // nothing more.
  void follow_growth() {
    std::size_t good = 0;
    {
      std::lock_guard lock(mutex_);
      good = runner_->getNodesStats(AF_INET).good_nodes +
             runner_->getNodesStats(AF_INET6).good_nodes;
    }
    if (good <= most_good_nodes_) return;
    most_good_nodes_ = good;
    log(LogLevel::debug, "routing table grew to ", good, " good nodes",
        published_ ? "; offer put again" : "", listen_token_ ? "; offers asked for" : "");
    if (published_) put_offer();
    if (listen_token_) {
      dht::GetCallback on_values = [this](const std::vector<std::shared_ptr<dht::Value>>& values) {
        return heard(values, false);
      };
      runner_->get(offer_key(), std::move(on_values), dht::DoneCallbackSimple{},
                   dht::Value::TypeFilter(offer_value_type_id));
    }
  }

  // ---- publishing (executor) ----

  bool publish(GatewayOffer offer, std::string* why) {
    offer.node_id = node_id_.empty() ? std::string(64, '0') : node_id_;  // checked on put
    offer.withdrawn = false;
    offer.expires = unix_now() + ttl_.count();
    if (!encode_offer(offer, why)) return false;
    offer.expires = 0;  // set at each signing
    // Nothing new to tell: the refresh timer keeps the signed copy alive.
    if (published_ && *published_ == offer && running_) return true;
    published_ = std::move(offer);
    publishing_ = true;
    if (running_) put_offer();
    return true;
  }

  // Signs the published offer with a fresh expiry and puts it; schedules
  // the next refresh at half its lifetime.
  void put_offer() {
    GatewayOffer offer = *published_;
    offer.node_id = node_id_;
    offer.expires = unix_now() + ttl_.count();
    // The callback runs on a DHT thread, which must never own the Impl
    // (its destructor joins that thread): retry from the executor.
    sign_and_put(offer, [ex = ex_, weak = weak_from_this()](bool ok) {
      if (!ok)
        boost::asio::post(ex, [weak] {
          if (auto self = weak.lock()) self->schedule_refresh(put_retry);
        });
    });
    last_signed_ = offer;
    published_expires_ = offer.expires;
    schedule_refresh(ttl_ / 2);
  }

  void schedule_refresh(std::chrono::steady_clock::duration after) {
    if (!published_ || !running_) return;
    const auto when = std::chrono::steady_clock::now() + after;
    // A retry must not postpone an earlier refresh.
    if (refresh_armed_ && refresh_timer_.expiry() <= when) return;
    refresh_armed_ = true;
    refresh_timer_.expires_at(when);
    refresh_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->refresh_armed_ = false;
        if (self->published_ && self->running_) self->put_offer();
      }
    });
  }

  // `done` runs on a DHT thread.
  void sign_and_put(const GatewayOffer& offer, std::function<void(bool)> done) {
    // Every signing gets a value id of its own. OpenDHT 2.4's listen cache
    // passes on only value ids it has not seen: an edit (the same id, a
    // higher sequence number) reaches a listener only by luck, so refreshes
    // and withdrawals put as edits would be missed by most listeners of a
    // mesh bigger than the handful of nodes that store the key. Sequence
    // numbers keep rising across ids: listeners use them to order two
    // statements signed within the same second.
    new_value_id();
    auto value = make_offer_value(offer, value_id_, next_seq_++);
    runner_->putSigned(
        offer_key(), value,
        [this, done = std::move(done), withdrawn = offer.withdrawn](bool ok) {
          (ok ? puts_ok_ : puts_failed_)++;
          // Info only when it changes: an isolated gateway retries every
          // put_retry.
          const bool changed = last_put_ok_.exchange(ok) != ok;
          log(changed ? LogLevel::info : LogLevel::debug, withdrawn ? "withdrawal" : "offer",
              ok ? " stored in the DHT" : " not stored: no DHT node reachable");
          if (done) done(ok);
        },
        false);
  }

  // Random value ids: ids derived from the node id could be taken first by
  // anyone (OpenDHT lets only the first signer edit a value id). The
  // previous value is no longer put again; storing nodes drop it when its
  // lifetime (offer_value_lifetime) has passed.
  void new_value_id() {
    if (value_id_ != 0) runner_->cancelPut(offer_key(), value_id_);
    std::random_device random;
    std::uniform_int_distribution<dht::Value::Id> pick(1);
    value_id_ = pick(random);
  }

  void withdraw(bool wait) {
    if (!published_) return;
    published_.reset();
    publishing_ = false;
    published_expires_ = 0;
    refresh_timer_.cancel();
    refresh_armed_ = false;
    if (!running_ || !last_signed_) return;
    // A value of its own, signed later than the offer (a later or equal
    // expiry, a higher sequence number): listeners hear it as a new value
    // and drop the offer, and ignore the offer's value, still stored until
    // its lifetime is over. The withdrawal lives as long as the offer could
    // have.
    GatewayOffer withdrawal = *last_signed_;
    withdrawal.withdrawn = true;
    withdrawal.expires = unix_now() + ttl_.count();
    last_signed_.reset();
    auto stored = std::make_shared<std::promise<bool>>();
    auto future = stored->get_future();
    sign_and_put(withdrawal, [stored](bool ok) { stored->set_value(ok); });
    log(LogLevel::info, "offer withdrawn");
    if (wait && future.wait_for(withdraw_wait) != std::future_status::ready)
      log(LogLevel::info, "withdrawal not confirmed within ",
          std::chrono::duration<double>(withdraw_wait).count(), " s");
  }

  // ---- listening ----

  void listen(OffersCallback callback) {
    callback_ = std::move(callback);
    if (!callback_) return cancel_listen();
    if (running_ && !listen_token_) start_listen();
  }

  void start_listen() {
    dht::ValueCallback on_values = [this](const std::vector<std::shared_ptr<dht::Value>>& values,
                                          bool expired) { return heard(values, expired); };
    listen_token_ = runner_->listen(offer_key(), std::move(on_values),
                                    dht::Value::TypeFilter(offer_value_type_id))
                        .share();
    listening_ = true;
  }

  void cancel_listen() {
    if (listen_token_ && runner_) runner_->cancelListen(offer_key(), *listen_token_);
    listen_token_.reset();
    listening_ = false;
    std::lock_guard lock(mutex_);
    offers_.clear();
    withdrawals_.clear();
  }

  // On a DHT thread: check each value, post what passed to the executor.
  bool heard(const std::vector<std::shared_ptr<dht::Value>>& values, bool expired) {
    std::vector<Heard> out;
    const auto now = unix_now();
    for (const auto& value : values) {
      if (!value) continue;
      if (expired) {
        // Gone from the DHT. Only values that passed SecureDht's signature
        // check reach a listener, so the owner is the signer.
        if (value->owner)
          out.push_back({Heard::Kind::gone, {}, identity_id(*value->owner), value->id, value->seq});
        continue;
      }
      auto checked = check_offer_value(*value, now);
      if (checked.verdict == OfferVerdict::accepted || checked.verdict == OfferVerdict::withdrawn) {
        const auto kind = checked.verdict == OfferVerdict::accepted ? Heard::Kind::offer
                                                                    : Heard::Kind::withdrawal;
        out.push_back({kind, std::move(checked.offer), {}, value->id, value->seq});
      } else {
        count(checked.verdict);
        log(LogLevel::debug, "dropped ", to_string(checked.verdict), " offer: ", checked.why);
      }
    }
    if (!out.empty())
      boost::asio::post(ex_, [weak = weak_from_this(), out = std::move(out)]() mutable {
        if (auto self = weak.lock()) self->apply(std::move(out));
      });
    return true;  // keep listening
  }

  // Newer means a later expiry: each signing puts it forward. Within the
  // same second, the higher sequence number (they rise across the value
  // ids of one run of the publisher).
  static bool is_newer(const Heard& h, const Known& k) {
    return h.offer.expires != k.offer.expires ? h.offer.expires > k.offer.expires : h.seq > k.seq;
  }

  // On the executor: update the table, tell the callback what changed.
  void apply(std::vector<Heard> heard) {
    if (!running_) return;
    std::vector<GatewayOffer> changed, gone;
    {
      std::lock_guard lock(mutex_);
      for (auto& h : heard) {
        if (h.kind == Heard::Kind::gone) {
          const auto it = offers_.find(h.node_id);
          if (it != offers_.end() && it->second.value_id == h.value_id && it->second.seq <= h.seq) {
            gone.push_back(std::move(it->second.offer));
            offers_.erase(it);
          }
          continue;
        }
        const std::string id = h.offer.node_id;
        const auto w = withdrawals_.find(id);
        if (w != withdrawals_.end() && !is_newer(h, w->second))
          continue;  // a copy older than the node's withdrawal
        const auto it = offers_.find(id);
        if (h.kind == Heard::Kind::withdrawal) {
          if (withdrawals_.size() < max_known_nodes || withdrawals_.count(id))
            withdrawals_[id] = {h.offer, h.value_id, h.seq};
          if (it != offers_.end() && is_newer(h, it->second)) {
            gone.push_back(std::move(it->second.offer));
            offers_.erase(it);
          }
          continue;
        }
        if (it != offers_.end() && !is_newer(h, it->second)) continue;  // a copy we have
        if (it == offers_.end() && offers_.size() >= max_known_nodes) {
          log(LogLevel::debug, "ignoring offer of ", id, ": ", max_known_nodes,
              " offers known already");
          continue;
        }
        changed.push_back(h.offer);
        offers_[id] = {std::move(h.offer), h.value_id, h.seq};
      }
    }
    expire_offers();  // also prunes withdrawals and re-arms the timer
    notify(std::move(changed), false);
    notify(std::move(gone), true);
  }

  // Drops offers and withdrawals whose time has passed; re-arms the timer
  // for the next expiry.
  void expire_offers() {
    const auto now = unix_now();
    std::vector<GatewayOffer> gone;
    std::optional<std::int64_t> next;
    {
      std::lock_guard lock(mutex_);
      std::erase_if(withdrawals_, [now](const auto& w) { return w.second.offer.expires <= now; });
      for (auto it = offers_.begin(); it != offers_.end();) {
        if (it->second.offer.expires <= now) {
          gone.push_back(std::move(it->second.offer));
          it = offers_.erase(it);
        } else {
          next = std::min(next.value_or(INT64_MAX), it->second.offer.expires);
          ++it;
        }
      }
    }
    if (next) {
      expiry_timer_.expires_at(std::chrono::system_clock::time_point(std::chrono::seconds(*next)));
      expiry_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
        if (ec) return;
        if (auto self = weak.lock(); self && self->running_) self->expire_offers();
      });
    }
    notify(std::move(gone), true);
  }

  void notify(std::vector<GatewayOffer> offers, bool expired) {
    if (!offers.empty() && callback_) callback_(std::move(offers), expired);
  }

  // ---- counters and OpenDHT's log (DHT threads) ----

  void count(OfferVerdict verdict) {
    switch (verdict) {
      case OfferVerdict::unsigned_value: ++unsigned_; break;
      case OfferVerdict::bad_signature: ++bad_signature_; break;
      case OfferVerdict::forged: ++forged_; break;
      case OfferVerdict::expired: ++expired_; break;
      case OfferVerdict::malformed: ++malformed_; break;
      case OfferVerdict::accepted:
      case OfferVerdict::withdrawn: break;
    }
  }

  // OpenDHT's warnings and errors become our debug lines (it reports routine
  // events such as unreachable nodes as errors). SecureDht drops a badly
  // signed value handed to our listener itself, before any callback of
  // ours; its warning is the only trace, so it is counted here. (A storing
  // node refuses a badly signed value without a word: that is not counted.)
  // So is a refused attempt to overwrite another signer's value, as forged:
  // OpenDHT 2.4 says "not signed or wrong owner", older ones "owner changed".
  std::shared_ptr<dht::Logger> make_dht_logger() {
    auto method = [this](const char* level) {
      return dht::LogMethod([this, level](char const* format, va_list args) {
        if (starts_with(format, "Signature verification failed") ||
            starts_with(format, "Edition forbidden: signature verification failed"))
          ++bad_signature_;
        else if (starts_with(format, "Edition forbidden: not signed or wrong owner") ||
                 starts_with(format, "Edition forbidden: owner changed"))
          ++forged_;
        if (opt_.log && opt_.log->enabled(LogLevel::debug))
          opt_.log->write(LogLevel::debug, std::string("dht: opendht ") + level + ": " +
                                               without_trailing_newlines(format_log(format, args)));
      });
    };
    return std::make_shared<dht::Logger>(method("error"), method("warning"), dht::LogMethod{});
  }

  // ---- status (any thread) ----

  DhtStatus status() const {
    DhtStatus s;
    {
      std::lock_guard lock(mutex_);
      s.running = runner_ != nullptr;
      s.node_id = node_id_;
      s.network_id = opt_.network_id;
      s.offers = offers_.size();
      if (runner_) {
        s.routing_id = runner_->getNodeId().toString();
        s.port4 = runner_->getBoundPort(AF_INET);
        s.port6 = runner_->getBoundPort(AF_INET6);
        const auto v4 = runner_->getNodesStats(AF_INET);
        const auto v6 = runner_->getNodesStats(AF_INET6);
        s.good4 = v4.good_nodes, s.dubious4 = v4.dubious_nodes;
        s.good6 = v6.good_nodes, s.dubious6 = v6.dubious_nodes;
      }
    }
    s.listening = listening_;
    s.publishing = publishing_;
    s.published_expires = published_expires_;
    s.puts_ok = puts_ok_;
    s.puts_failed = puts_failed_;
    s.dropped = {unsigned_, bad_signature_, forged_, expired_, malformed_};
    return s;
  }

  std::vector<GatewayOffer> offers() const {
    std::lock_guard lock(mutex_);
    std::vector<GatewayOffer> out;
    out.reserve(offers_.size());
    for (const auto& [id, known] : offers_) out.push_back(known.offer);
    return out;
  }

  // ---- fixed at construction ----
  const boost::asio::any_io_executor ex_;
  const Options opt_;
  const std::chrono::seconds ttl_;

  // ---- guarded by mutex_ (read from any thread). Never held by a DHT
  // thread: OpenDHT calls us with its own lock held. ----
  mutable std::mutex mutex_;
  std::unique_ptr<dht::DhtRunner> runner_;
  std::string node_id_;
  std::map<std::string, Known> offers_;       // by node id
  std::map<std::string, Known> withdrawals_;  // by node id, until they expire
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

DhtNode::DhtNode(boost::asio::any_io_executor executor, Options options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {}

DhtNode::~DhtNode() { impl_->stop(); }

void DhtNode::start() { impl_->start(); }
void DhtNode::stop() { impl_->stop(); }
bool DhtNode::running() const { return impl_->running_; }

std::string DhtNode::node_id() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->node_id_;
}

void DhtNode::bootstrap(const std::string& host, std::uint16_t port) {
  impl_->bootstrap(host, port);
}

bool DhtNode::publish(GatewayOffer offer, std::string* why) {
  return impl_->publish(std::move(offer), why);
}
void DhtNode::withdraw() { impl_->withdraw(false); }

void DhtNode::listen(OffersCallback callback) { impl_->listen(std::move(callback)); }
void DhtNode::stop_listening() { impl_->listen(nullptr); }

std::vector<GatewayOffer> DhtNode::offers() const { return impl_->offers(); }
DhtStatus DhtNode::status() const { return impl_->status(); }

}  // namespace mnigs
