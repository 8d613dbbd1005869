// Re-probes: babel, batman-adv and l2 publish "discovery.changed" when their
// view of the mesh changes by itself. The scanner then asks the discovery
// plugins again and probes only the nodes at addresses that neither the last
// scan nor a re-probe since has probed, so a gateway that just joined is
// listed within seconds instead of at the next scan.interval, and a mesh
// whose routes churn all day costs one nodeInfo per new address, not a scan
// per change. Nodes that went away stay until a scan no longer finds them.
//
// Bounds: nothing while background scans are off (scan.interval 0) or a
// scan runs; one re-probe at a time, change_delay after the first event of
// a burst and at least min_reprobe_gap after the previous one; at most
// max_reprobe_targets new nodes each (the rest wait for the next change or
// scan); probes as parallel as scan.parallelism, each with scan.timeout; at
// most max_probed_addresses remembered.
#include "peer/rpc_client.hpp"
#include "scanner/scanner.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace mnigs {

namespace {

using namespace std::chrono_literals;

constexpr auto change_delay = 2s;
constexpr auto min_reprobe_gap = 10s;
constexpr std::size_t max_reprobe_targets = 64;
// Addresses remembered as probed between two scans. Discovery bounds what it
// reports at any one time, but a neighbour that keeps announcing new
// addresses could grow the set until the next scan (up to a day away): past
// this it is forgotten, and the next re-probes look at a few nodes again.
constexpr std::size_t max_probed_addresses = 16384;

}  // namespace

void Scanner::on_discovery_changed() {
  if (stopped_ || change_armed_) return;
  if (config_.get()->get_int("scan", "interval") == 0) return;
  if (reprobe_) {
    changed_again_ = true;
    return;
  }
  change_armed_ = true;
  const auto now = clock_.now();
  const auto due = std::max(now + change_delay, last_reprobe_ + min_reprobe_gap);
  change_timer_->expires_at(due);
  change_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    change_armed_ = false;
    if (!stopped_ && !running_) reprobe();  // a scan that runs sees the change itself
  });
}

void Scanner::reprobe() {
  last_reprobe_ = clock_.now();
  auto r = std::make_shared<Reprobe>();
  r->scan = scan_;
  reprobe_ = r;
  auto timeout = std::chrono::milliseconds(config_.get()->get_int("scan", "discoveryTimeout"));
  plugins_.discover_all(timeout, [this, r](std::vector<PluginHost::Discovered> reports) {
    boost::asio::post(strand_, [this, r, reports = std::move(reports)]() mutable {
      on_reprobe_discovered(r, std::move(reports));
    });
  });
}

void Scanner::on_reprobe_discovered(std::shared_ptr<Reprobe> r,
                                    std::vector<PluginHost::Discovered> reports) {
  if (r != reprobe_) return;
  if (stopped_ || running_ || r->scan != scan_) return finish_reprobe(r);
  std::vector<scan::Report> input;
  for (auto& report : reports) input.push_back({report.network, std::move(report.found)});
  scan::Plan plan = scan::plan(input, scan_ports());
  if (probed_addresses_.size() > max_probed_addresses) probed_addresses_.clear();
  for (auto& t : plan.targets) {
    const bool probed = std::any_of(t.addresses.begin(), t.addresses.end(),
                                    [&](const auto& a) { return probed_addresses_.count(a); });
    if (probed || r->queue.size() >= max_reprobe_targets) continue;
    probed_addresses_.insert(t.addresses.begin(), t.addresses.end());
    if (address_seen_)
      for (const auto& a : t.addresses) address_seen_(a, 0);
    auto p = std::make_shared<Probe>();
    p->target = std::move(t);
    r->queue.push_back(std::move(p));
  }
  if (!r->queue.empty())
    log_.debug("discovery changed: probing ", r->queue.size(), " node(s) no scan has probed");
  parallelism_ = static_cast<std::size_t>(config_.get()->get_int("scan", "parallelism"));
  timeout_ = std::chrono::milliseconds(config_.get()->get_int("scan", "timeout"));
  pump_reprobe(r);
}

void Scanner::pump_reprobe(std::shared_ptr<Reprobe> r) {
  while (r->in_flight < parallelism_ && !r->queue.empty()) {
    auto p = std::move(r->queue.front());
    r->queue.pop_front();
    ++r->in_flight;
    probe_again(r, std::move(p));
  }
  if (r->in_flight == 0 && r->queue.empty()) finish_reprobe(r);
}

void Scanner::probe_again(std::shared_ptr<Reprobe> r, std::shared_ptr<Probe> p) {
  const std::string address = p->target.addresses[p->next_address++];
  const auto sent = std::chrono::steady_clock::now();
  call_rpc(strand_, address, p->target.port, "nodeInfo", Json::Value(), timeout_,
           [this, r, p, address, sent](RpcReply reply) {
             if (r != reprobe_ || stopped_) return;
             const std::string problem =
                 reply.ok() ? scan::check_node_info(reply.result) : reply.message;
             if (!problem.empty() && p->next_address < p->target.addresses.size())
               return probe_again(r, p);
             if (problem.empty() && reply.result["id"].asString() != self_id_) {
               auto [it, fresh] = r->found.try_emplace(reply.result["id"].asString());
               scan::merge_reply(it->second, fresh, p->target, address, reply.result,
                                 std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - sent)
                                     .count());
               const Json::Value& dht_port = reply.result["dht"]["port"];
               if (fresh && address_seen_ && dht_port.isUInt() && dht_port.asUInt() > 0 &&
                   dht_port.asUInt() < 65536)
                 address_seen_(address, static_cast<std::uint16_t>(dht_port.asUInt()));
             }
             --r->in_flight;
             pump_reprobe(r);
           });
}

void Scanner::finish_reprobe(std::shared_ptr<Reprobe> r) {
  if (r != reprobe_) return;
  reprobe_.reset();
  // Written only while the scan it joins is still the latest: "current"
  // then means reached since that scan.
  if (!stopped_ && !running_ && r->scan == scan_ && !r->found.empty()) {
    auto nodes = std::make_shared<std::vector<scan::Found>>();
    for (auto& [id, f] : r->found) {
      log_.info("discovery changed: found ", f.name, " at ", f.address, " port ", f.port,
                f.gateway ? " (gateway)" : "");
      events_.publish("scan.node", scan::node_event(f, r->scan));
      nodes->push_back(std::move(f));
    }
    const std::int64_t seen = wall();
    store_.post([nodes, seen, scan = r->scan](sqlite3* db) {
      Transaction tx(db);
      scan::store_found(db, *nodes, seen, scan);
      tx.commit();
    });
  }
  if (changed_again_) {
    changed_again_ = false;
    on_discovery_changed();
  }
}

}  // namespace mnigs
