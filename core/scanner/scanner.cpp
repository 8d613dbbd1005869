#include "scanner/scanner.hpp"

#include "peer/rpc_client.hpp"
#include "scanner/found.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "util/json_text.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace mnigs {

namespace {

using namespace std::chrono_literals;

// The first background scan waits this long after start-up (or one
// scan.interval if that is shorter), so that discovery plugins have talked to
// their daemons first.
constexpr auto first_background_scan = 15s;
// How often discovery plugins are asked, between scans, whether their
// routing daemons are there (this decides the suites the node offers).
constexpr auto survey_interval = 30s;
// scan.progress events at most this often.
constexpr auto progress_interval = 200ms;

}  // namespace

Scanner::Scanner(boost::asio::io_context& io, const ConfigHolder& config, Store& store,
                 PluginHost& plugins, CoreEventBus& events, std::string self_id,
                 AddressSeen address_seen, os::Clock& clock)
    : io_(io),
      config_(config),
      store_(store),
      plugins_(plugins),
      events_(events),
      self_id_(std::move(self_id)),
      address_seen_(std::move(address_seen)),
      clock_(clock),
      strand_(boost::asio::make_strand(io)),
      timer_(clock_.make_timer(strand_)),
      survey_timer_(clock_.make_timer(strand_)),
      change_timer_(clock_.make_timer(strand_)) {}

std::vector<std::uint16_t> Scanner::scan_ports() const {
  std::vector<std::uint16_t> ports;
  for (const auto& p : config_.get()->get_list("daemon", "scanports"))
    ports.push_back(static_cast<std::uint16_t>(std::stoul(p)));
  return ports;
}

std::int64_t Scanner::wall() const { return clock_.unix_seconds(); }

void Scanner::start() {
  // Scan numbers go on from the last run's, so "scan N" means one thing.
  store_.query<std::uint64_t>(
      [](sqlite3* db) -> std::uint64_t {
        Statement st(db, "SELECT COALESCE(MAX(id), 0) FROM scans");
        st.step();
        return static_cast<std::uint64_t>(st.column_int64(0));
      },
      strand_,
      [this](std::uint64_t last) {
        if (!running_) scan_ = std::max(scan_, last);
        arm_timer(first_delay());
      },
      [this](std::string) { arm_timer(first_delay()); });
  boost::asio::post(strand_, [this] { survey(); });
  changed_subscription_ = events_.subscribe(
      "discovery.changed",
      [this](const std::string&, const Json::Value&) { on_discovery_changed(); }, strand_);
}

void Scanner::survey() {
  if (stopped_) return;
  // A scan asks the plugins anyway; the host notes who answered.
  if (!running_) {
    auto timeout = std::chrono::milliseconds(config_.get()->get_int("scan", "discoveryTimeout"));
    plugins_.discover_all(timeout, [this](std::vector<PluginHost::Discovered> reports) {
      if (!address_seen_) return;
      for (const auto& r : reports)
        for (const auto& c : r.found.candidates) address_seen_(c.address, 0);
    });
  }
  survey_timer_->expires_after(survey_interval);
  survey_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) survey();
  });
}

std::chrono::seconds Scanner::first_delay() const {
  auto interval = std::chrono::seconds(config_.get()->get_int("scan", "interval"));
  return interval.count() > 0 ? std::min<std::chrono::seconds>(first_background_scan, interval)
                              : first_background_scan;
}

void Scanner::interval_changed() {
  boost::asio::post(strand_, [this] {
    if (stopped_) return;
    timer_->cancel();
    auto interval = std::chrono::seconds(config_.get()->get_int("scan", "interval"));
    if (interval.count() == 0) return arm_timer(60s);
    auto since = std::chrono::seconds(std::max<std::int64_t>(0, wall() - finished_at_));
    arm_timer(finished_at_ && since < interval ? interval - since : std::chrono::seconds(0));
  });
}

void Scanner::stop() {
  boost::asio::post(strand_, [this] {
    stopped_ = true;
    timer_->cancel();
    survey_timer_->cancel();
    change_timer_->cancel();
    events_.unsubscribe(changed_subscription_);
    queue_.clear();
    reprobe_.reset();
  });
}

void Scanner::arm_timer(std::chrono::seconds delay) {
  if (stopped_) return;
  timer_->expires_after(delay);
  timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    auto interval = std::chrono::seconds(config_.get()->get_int("scan", "interval"));
    if (interval.count() == 0) return arm_timer(60s);  // off; look again later
    if (running_) return arm_timer(interval);
    // A scan asked for by hand counts: the next one is due an interval after it.
    auto since = std::chrono::seconds(std::max<std::int64_t>(0, wall() - finished_at_));
    if (finished_at_ && since < interval) return arm_timer(interval - since);
    begin(true);
    arm_timer(interval);
  });
}

void Scanner::start_scan(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done = std::move(done)] {
    Json::Value r(Json::objectValue);
    r["started"] = !running_ && !stopped_;
    if (!running_ && !stopped_) begin(false);
    r["scan"] = static_cast<Json::UInt64>(scan_);
    done(r);
  });
}

void Scanner::status(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done = std::move(done)] { done(status_now()); });
}

Json::Value Scanner::status_now() const {
  Json::Value r(Json::objectValue);
  r["scan"] = static_cast<Json::UInt64>(scan_);
  r["running"] = running_;
  r["background"] = background_;
  r["candidates"] = static_cast<Json::UInt64>(candidates_);
  r["total"] = static_cast<Json::UInt64>(total_);
  r["probed"] = static_cast<Json::UInt64>(probed_);
  r["found"] = static_cast<Json::UInt64>(found_.size());
  std::size_t gateways = 0;
  for (const auto& [id, f] : found_) gateways += f.gateway;
  r["gateways"] = static_cast<Json::UInt64>(gateways);
  r["errors"] = errors_;
  r["startedAt"] = started_at_ ? Json::Value(static_cast<Json::Int64>(started_at_)) : Json::Value();
  r["finishedAt"] =
      finished_at_ && !running_ ? Json::Value(static_cast<Json::Int64>(finished_at_)) : Json::Value();
  double seconds = running_ ? std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_)
                                  .count()
                            : seconds_;
  r["seconds"] = seconds;
  return r;
}

void Scanner::begin(bool background) {
  auto config = config_.get();
  ++scan_;
  running_ = true;
  background_ = background;
  started_at_ = wall();
  finished_at_ = 0;
  t0_ = std::chrono::steady_clock::now();
  seconds_ = 0;
  candidates_ = total_ = probed_ = in_flight_ = 0;
  errors_ = Json::Value(Json::arrayValue);
  queue_.clear();
  found_.clear();
  links_.clear();
  link_networks_.clear();
  parallelism_ = static_cast<std::size_t>(config->get_int("scan", "parallelism"));
  timeout_ = std::chrono::milliseconds(config->get_int("scan", "timeout"));
  auto discovery_timeout = std::chrono::milliseconds(config->get_int("scan", "discoveryTimeout"));
  (background ? log_.debug("scan ", scan_, " started (background)")
              : log_.info("scan ", scan_, " started"));
  Json::Value e(Json::objectValue);
  e["scan"] = static_cast<Json::UInt64>(scan_);
  e["background"] = background;
  events_.publish("scan.started", e);
  plugins_.discover_all(discovery_timeout,
                        [this, scan = scan_](std::vector<PluginHost::Discovered> reports) {
                          boost::asio::post(strand_, [this, scan, reports = std::move(reports)] {
                            on_discovered(scan, std::move(reports));
                          });
                        });
}

void Scanner::on_discovered(std::uint64_t scan, std::vector<PluginHost::Discovered> reports) {
  if (scan != scan_ || !running_ || stopped_) return;
  std::vector<scan::Report> plan_input;
  for (auto& r : reports) {
    if (!r.found.error.empty()) {
      Json::Value e(Json::objectValue);
      e["plugin"] = r.plugin;
      e["network"] = r.network;
      e["error"] = r.found.error;
      errors_.append(e);
      log_.debug("scan ", scan, ": ", r.plugin, ": ", r.found.error);
    }
    for (const auto& l : r.found.links) {
      links_.push_back(l);
      link_networks_.push_back(r.network);
    }
    plan_input.push_back({r.network, std::move(r.found)});
  }
  scan::Plan plan = scan::plan(plan_input, scan_ports());
  probed_addresses_.clear();
  for (const auto& t : plan.targets)
    probed_addresses_.insert(t.addresses.begin(), t.addresses.end());
  if (address_seen_)
    for (const auto& t : plan.targets)
      for (const auto& a : t.addresses) address_seen_(a, 0);
  for (const auto& bad : plan.rejected)
    log_.warn("scan ", scan, ": discovery reported \"", bad, "\", which is not an IP address");
  candidates_ = plan.candidates;
  total_ = plan.targets.size();
  for (auto& t : plan.targets) {
    auto p = std::make_shared<Probe>();
    p->target = std::move(t);
    queue_.push_back(std::move(p));
  }
  log_.debug("scan ", scan, ": ", candidates_, " candidate address(es), ", total_, " probe(s)");
  progress(true);
  pump(scan);
}

void Scanner::pump(std::uint64_t scan) {
  while (in_flight_ < parallelism_ && !queue_.empty()) {
    auto p = std::move(queue_.front());
    queue_.pop_front();
    ++in_flight_;
    probe(scan, std::move(p));
  }
  if (in_flight_ == 0 && queue_.empty()) finish(scan);
}

void Scanner::probe(std::uint64_t scan, std::shared_ptr<Probe> p) {
  const std::string address = p->target.addresses[p->next_address++];
  auto sent = std::chrono::steady_clock::now();
  call_rpc(strand_, address, p->target.port, "nodeInfo", Json::Value(), timeout_,
           [this, scan, p, address, sent](RpcReply reply) {
             if (!reply.ok()) return on_reply(scan, p, address, sent, nullptr, reply.message);
             on_reply(scan, p, address, sent, &reply.result, "");
           });
}

void Scanner::on_reply(std::uint64_t scan, std::shared_ptr<Probe> p, const std::string& address,
                       std::chrono::steady_clock::time_point sent, const Json::Value* info,
                       const std::string& failure) {
  if (scan != scan_ || stopped_) return;  // a stale answer from a cancelled scan
  std::string problem = info ? scan::check_node_info(*info) : failure;
  if (!problem.empty()) {
    log_.debug("scan ", scan, ": ", address, " port ", p->target.port, ": ", problem);
    if (p->next_address < p->target.addresses.size()) return probe(scan, p);
  } else if ((*info)["id"].asString() != self_id_) {
    const auto& t = p->target;
    const std::string id = (*info)["id"].asString();
    auto [it, fresh] = found_.try_emplace(id);
    scan::Found& f = it->second;
    scan::merge_reply(f, fresh, t, address, *info,
                      std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - sent)
                          .count());
    if (fresh && address_seen_ && (*info)["dht"]["port"].isUInt() &&
        (*info)["dht"]["port"].asUInt() > 0 && (*info)["dht"]["port"].asUInt() < 65536)
      address_seen_(address, static_cast<std::uint16_t>((*info)["dht"]["port"].asUInt()));
    if (fresh) {
      log_.debug("scan ", scan, ": found ", f.name, " at ", address, " port ", t.port,
                 f.gateway ? " (gateway)" : "");
      events_.publish("scan.node", scan::node_event(f, scan));
    }
  }
  ++probed_;
  --in_flight_;
  progress(false);
  pump(scan);
}

void Scanner::progress(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_progress_ < progress_interval) return;
  last_progress_ = now;
  events_.publish("scan.progress", status_now());
}

void Scanner::finish(std::uint64_t scan) {
  if (!running_ || scan != scan_) return;
  running_ = false;
  finished_at_ = wall();
  seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  std::size_t gateways = 0;
  for (const auto& [id, f] : found_) gateways += f.gateway;
  (background_ ? log_.debug("scan ", scan, " finished: ", found_.size(), " node(s), ", gateways,
                            " gateway(s) in ", seconds_, " s")
               : log_.info("scan ", scan, " finished: ", found_.size(), " node(s), ", gateways,
                           " gateway(s) in ", seconds_, " s"));

  // One transaction: the list a user reads is never half of one scan.
  auto nodes = std::make_shared<std::vector<scan::Found>>();
  for (auto& [id, f] : found_) nodes->push_back(f);
  auto links = links_;
  auto networks = link_networks_;
  auto errors = to_json_text(errors_);
  const std::int64_t started = started_at_, finished = finished_at_;
  const std::int64_t forget = config_.get()->get_int("scan", "forgetAfter");
  const std::size_t candidates = candidates_, probed = probed_;
  store_.post([=](sqlite3* db) {
    Transaction tx(db);
    scan::store_found(db, *nodes, finished, scan);
    Statement link(db,
                   "INSERT OR REPLACE INTO links (network, from_node, to_node, cost, last_seen) "
                   "VALUES (?, ?, ?, ?, ?)");
    for (std::size_t i = 0; i < links.size(); ++i) {
      link.reset();
      link.bind_text(1, networks[i])
          .bind_text(2, links[i].from)
          .bind_text(3, links[i].to)
          .bind_int64(4, links[i].cost)
          .bind_int64(5, finished);
      link.step();
    }
    Statement s(db,
                "INSERT OR REPLACE INTO scans (id, started, finished, candidates, probed, found, gateways, "
                "errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind_int64(1, static_cast<std::int64_t>(scan))
        .bind_int64(2, started)
        .bind_int64(3, finished)
        .bind_int64(4, static_cast<std::int64_t>(candidates))
        .bind_int64(5, static_cast<std::int64_t>(probed))
        .bind_int64(6, static_cast<std::int64_t>(nodes->size()))
        .bind_int64(7, static_cast<std::int64_t>(gateways))
        .bind_text(8, errors);
    s.step();
    // What has not been seen for scan.forgetAfter seconds is gone.
    for (const char* sql : {"DELETE FROM nodes WHERE last_seen < ?", "DELETE FROM links WHERE last_seen < ?",
                            "DELETE FROM scans WHERE finished < ?"}) {
      Statement del(db, sql);
      del.bind_int64(1, finished - forget);
      del.step();
    }
    tx.commit();
  });
  events_.publish("scan.finished", status_now());
}

}  // namespace mnigs
