// DhtNode: start and stop, the routing table on disk, bootstrap and
// rejoining, OpenDHT's log and the status. Publishing is in node_publish.cpp,
// listening in node_listen.cpp.
#include "dht/node_impl.hpp"
#include "dht/opendht_log.hpp"
#include "util/atomic_file.hpp"

#include <boost/asio/ip/udp.hpp>

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace mnigs {
namespace {

namespace fs = std::filesystem;

// The routing table saved at stop, read at start.
constexpr const char* nodes_file = "dht.nodes";
constexpr std::uintmax_t max_nodes_file_bytes = 1 << 20;
// Distinct bootstrap endpoints remembered (scans report the same ones again
// and again).
constexpr std::size_t max_bootstrap_endpoints = 1024;
// Remembered endpoints pinged again per Options::rejoin_interval, at most.
constexpr std::size_t max_rejoin_pings = 16;
// Keys OpenDHT stores values under for others.
constexpr ssize_t max_store_keys = 64;

dht::SockAddr bind_address(const std::string& text, std::uint16_t port, bool v6) {
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(text, ec);
  if (ec || addr.is_v6() != v6)
    throw std::runtime_error("dht: bind address \"" + text + "\" is not an IPv" +
                             (v6 ? "6" : "4") + " address");
  const boost::asio::ip::udp::endpoint endpoint(addr, port);
  return dht::SockAddr(endpoint.data(), static_cast<socklen_t>(endpoint.size()));
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


void DhtNode::Impl::start() {
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
std::unique_ptr<dht::DhtRunner> DhtNode::Impl::run_dht(const DhtIdentity& identity) {
  dht::DhtRunner::Config config;
  config.dht_config.node_config.network = opt_.network_id;
  // Values stored for others: within the budget, under few keys (the mnigs
  // DHT uses one; a hostile node could make up millions).
  config.dht_config.node_config.max_store_size = static_cast<ssize_t>(opt_.storage_limit);
  config.dht_config.node_config.max_store_keys = max_store_keys;
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

void DhtNode::Impl::stop() {
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
    offers_.clear_offers();
  }
  running_ = false;
  // After join() OpenDHT calls nothing of ours; posted handlers see
  // running_ == false and do nothing.
  runner->join();
  log(LogLevel::info, "stopped");
}

void DhtNode::Impl::save_nodes() {
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

void DhtNode::Impl::restore_nodes() {
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

// Records the endpoint; true when it is new.
bool DhtNode::Impl::remember_bootstrap(const std::string& host, std::uint16_t port) {
  std::lock_guard lock(mutex_);
  if (bootstrap_.size() >= max_bootstrap_endpoints) return false;
  return bootstrap_.emplace(host, port).second;
}

void DhtNode::Impl::bootstrap(const std::string& host, std::uint16_t port) {
  if (!remember_bootstrap(host, port)) return;
  std::lock_guard lock(mutex_);
  if (runner_) runner_->bootstrap(host, std::to_string(port));
  log(LogLevel::debug, "bootstrapping through ", endpoint_text(host, port));
}

// OpenDHT pings its bootstrap list again only while the node has no peer
// at all. A node that was not up yet when we pinged it, and that nobody
// else knows of, would never be joined once we have other peers; nor
// would the other side of a mesh that was split for a while. So every
// rejoin_interval, remembered endpoints that the routing table does not
// hold are pinged again: the configured ones first, then those discovery
// and scans reported, in turns, at most max_rejoin_pings in all. Host
// names are left to OpenDHT (resolving them would block here).
void DhtNode::Impl::schedule_rejoin() {
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

void DhtNode::Impl::rejoin() {
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
void DhtNode::Impl::follow_growth() {
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

void DhtNode::Impl::count(OfferVerdict verdict) {
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
// events such as unreachable nodes as errors). Two refusals are reported
// only there and are counted (see opendht_log.hpp). (A storing node
// refuses a badly signed value without a word: that is not counted.)
std::shared_ptr<dht::Logger> DhtNode::Impl::make_dht_logger() {
  auto method = [this](const char* level) {
    return dht::LogMethod([this, level](char const* format, va_list args) {
      switch (classify_opendht_log(format)) {
        case OpenDhtLogEvent::bad_signature: ++bad_signature_; break;
        case OpenDhtLogEvent::forged: ++forged_; break;
        case OpenDhtLogEvent::other: break;
      }
      if (opt_.log && opt_.log->enabled(LogLevel::debug))
        opt_.log->write(LogLevel::debug, std::string("dht: opendht ") + level + ": " +
                                             format_opendht_log(format, args));
    });
  };
  return std::make_shared<dht::Logger>(method("error"), method("warning"), dht::LogMethod{});
}

DhtStatus DhtNode::Impl::status() const {
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

std::vector<GatewayOffer> DhtNode::Impl::offers() const {
  std::lock_guard lock(mutex_);
  return offers_.offers();
}

const bool DhtNode::built = true;

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

