#include "l2_discovery.hpp"

#include <boost/asio/error.hpp>

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace mnigs::l2 {

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kNodeIdKey = "nodeId";
// If the store has not answered by then, this run uses a fresh id.
constexpr auto kStoreTimeout = 5s;
// A newcomer is answered at once, but no more than once a second per link.
constexpr auto kMinReplyGap = 1s;
// Send failures in a row before they are a problem worth a warning: the
// first ones after an interface comes up are usually duplicate address
// detection still holding the link-local source address.
constexpr int kSendFailuresToWarn = 5;
constexpr auto kBadLogGap = 60s;
// After a failed send the next round comes this soon (or at the interval if
// shorter), kSendFailuresToWarn times at most: a fresh interface's
// link-local address is usually ready within a second or two.
constexpr std::chrono::seconds kRetryAfter = 1s;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string random_node_id() {
  std::random_device device;
  static const char* hex = "0123456789abcdef";
  std::string id;
  while (id.size() < kNodeIdLength) {
    auto word = device();
    for (int i = 0; i < 8 && id.size() < kNodeIdLength; ++i, word >>= 4) id += hex[word & 0xf];
  }
  return id;
}

// The sender as peers are reported: a link-local address with the zone of the
// interface it was heard on, anything else as it is.
std::string source_text(const asio::ip::udp::endpoint& from, const std::string& interface) {
  auto a = from.address();
  if (a.is_v6() && a.to_v6().is_link_local()) {
    auto bytes = a.to_v6().to_bytes();
    return asio::ip::address_v6(bytes).to_string() + "%" + interface;
  }
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

// Whole seconds from `earlier` to `later`, for status lines.
Json::Int64 seconds_between(Clock::time_point earlier, Clock::time_point later) {
  return std::chrono::duration_cast<std::chrono::seconds>(later - earlier).count();
}

}  // namespace

L2Discovery::L2Discovery(PluginContext& ctx, Lister lister)
    : ctx_(ctx),
      lister_(std::move(lister)),
      tick_timer_(ctx.executor()),
      expiry_timer_(ctx.executor()),
      id_timer_(ctx.executor()),
      random_(std::random_device{}()) {}

void L2Discovery::start() {
  std::string why;
  auto settings = parse_settings(ctx_.config(), &why);
  if (!settings) throw std::runtime_error(why);
  settings_ = *settings;
  peers_.set_holdtime(settings_.holdtime);
  peers_.set_max_peers(settings_.max_peers);
  started_ = true;
  std::weak_ptr<L2Discovery> weak = weak_from_this();
  ctx_.register_method("listPeers", Access::admin,
                       [weak](const Json::Value&, const CallInfo&, Responder reply) {
                         auto self = weak.lock();
                         if (!self || self->stopped_)
                           return reply.error(rpc_error::unavailable, "l2 discovery is stopped");
                         Json::Value out(Json::objectValue);
                         out["peers"] = self->peers_json();
                         reply.result(out);
                       });
  load_node_id();
}

void L2Discovery::stop() {
  if (stopped_) return;
  stopped_ = true;
  tick_timer_.cancel();
  expiry_timer_.cancel();
  id_timer_.cancel();
  for (auto& [name, link] : links_)
    if (link.socket) link.socket->close();
  links_.clear();
}

// ---------------------------------------------------------------- node id

void L2Discovery::load_node_id() {
  std::weak_ptr<L2Discovery> weak = weak_from_this();
  id_timer_.expires_after(kStoreTimeout);
  id_timer_.async_wait([weak](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopped_ || !self->node_id_.empty()) return;
    self->ctx_.log().warn("the store did not answer within ",
                          std::chrono::duration_cast<std::chrono::seconds>(kStoreTimeout).count(),
                          " s; announcing with a new node id for this run");
    self->use_node_id(random_node_id());
  });
  ctx_.store().get(kNodeIdKey, [weak](std::optional<std::string> stored) {
    auto self = weak.lock();
    if (!self || self->stopped_ || !self->node_id_.empty()) return;
    if (stored && valid_node_id(*stored)) return self->use_node_id(*stored);
    if (stored)
      self->ctx_.log().warn("stored node id \"", stored->substr(0, 32),
                            "\" is malformed; creating a new one");
    std::string id = random_node_id();
    self->ctx_.store().put(kNodeIdKey, id);
    self->use_node_id(std::move(id));
  });
}

void L2Discovery::use_node_id(std::string id) {
  id_timer_.cancel();
  node_id_ = std::move(id);
  tick();
}

// ---------------------------------------------------------------- rounds

void L2Discovery::schedule_tick(bool soon) {
  // Up to a tenth early, at random, so that nodes started together do not
  // keep announcing in the same instant.
  auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(
      soon ? std::min<std::chrono::seconds>(kRetryAfter, settings_.interval) : settings_.interval);
  std::uniform_int_distribution<std::int64_t> jitter(0, interval.count() / 10);
  tick_timer_.expires_after(interval - std::chrono::milliseconds(jitter(random_)));
  std::weak_ptr<L2Discovery> weak = weak_from_this();
  tick_timer_.async_wait([weak](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopped_) return;
    self->tick();
  });
}

void L2Discovery::tick() {
  if (stopped_ || node_id_.empty()) return;
  std::string why;
  auto all = lister_(&why);
  std::map<std::string, std::string> problems;
  if (!all) {
    // Keep the sockets there are; the kernel may answer next time.
    if (why != list_error_) ctx_.log().warn(why, "; trying again every interval");
    list_error_ = why;
    problems = problems_;
  } else {
    list_error_.clear();
    Selection selection = select_interfaces(*all, settings_.interfaces);
    problems = std::move(selection.problems);
    update_links(selection.use, problems);
  }
  // Retried soon while an interface is new to failing, at the interval after.
  bool soon = false;
  for (auto& [name, link] : links_) {
    if (!announce(link)) soon |= link.send_failures < kSendFailuresToWarn;
    if (link.send_failures >= kSendFailuresToWarn)
      problems[name] = "sending fails: " + link.send_error;
  }
  set_problems(std::move(problems));
  ticked_ = true;
  expire();
  schedule_tick(soon);
}

void L2Discovery::update_links(const std::vector<LinkInterface>& use,
                               std::map<std::string, std::string>& problems) {
  // Gone, or another interface under the same name (a new index).
  for (auto it = links_.begin(); it != links_.end();) {
    auto now = std::find_if(use.begin(), use.end(),
                            [&](const LinkInterface& i) { return i.name == it->first; });
    if (now == use.end() || now->index != it->second.iface.index || !it->second.socket->is_open()) {
      if (now == use.end()) ctx_.log().info("no longer announcing on ", it->first);
      it->second.socket->close();
      it = links_.erase(it);
    } else {
      it->second.iface = *now;  // its addresses may have changed
      ++it;
    }
  }
  std::vector<std::string> added;
  for (const auto& iface : use) {
    if (links_.count(iface.name)) continue;
    std::string why;
    if (open_link(iface, &why))
      added.push_back(iface.name);
    else
      problems[iface.name] = why;
  }
  if (!said_hello_) {
    std::ostringstream where;
    if (settings_.interfaces.empty())
      where << "every multicast interface";
    else
      where << "interfaces " << join(settings_.interfaces);
    ctx_.log().info("node ", node_id_, " announcing on ", where.str(), " every ",
                    settings_.interval.count(), " s to [", settings_.group.to_string(),
                    "]:", settings_.port, "; now on: ", added.empty() ? "none" : join(added));
    said_hello_ = true;
  } else if (!added.empty()) {
    ctx_.log().info("now announcing on ", join(added));
  }
}

bool L2Discovery::open_link(const LinkInterface& iface, std::string* why) {
  auto socket = LinkSocket::open(ctx_.executor(), iface, settings_.group, settings_.port, why);
  if (!socket) return false;
  std::weak_ptr<L2Discovery> weak = weak_from_this();
  const std::string name = iface.name;
  socket->start(
      [weak, name](std::string_view datagram, const asio::ip::udp::endpoint& from) {
        if (auto self = weak.lock()) self->on_datagram(datagram, name, from);
      },
      [weak, name](const boost::system::error_code& ec) {
        // The next round opens the interface again if it is still there.
        if (auto self = weak.lock(); self && !self->stopped_)
          self->ctx_.log().warn("receiving on ", name, " failed: ", ec.message(),
                                "; reopening at the next announcement");
      });
  LinkState link;
  link.iface = iface;
  link.socket = std::move(socket);
  links_.emplace(name, std::move(link));
  return true;
}

bool L2Discovery::announce(LinkState& link) {
  Announcement a;
  a.node_id = node_id_;
  a.interval = static_cast<int>(settings_.interval.count());
  a.addresses = link.iface.addresses;
  auto ec = link.socket->send(encode(a));
  if (!ec) {
    ++sent_;
    if (link.send_failures >= kSendFailuresToWarn)
      ctx_.log().info("sending on ", link.iface.name, " works again");
    link.send_failures = 0;
    return true;
  }
  ++send_errors_;
  ++link.send_failures;
  link.send_error = ec.message();
  ctx_.log().debug("sending on ", link.iface.name, " failed: ", ec.message());
  return false;
}

void L2Discovery::set_problems(std::map<std::string, std::string> next) {
  for (const auto& [name, why] : next) {
    auto old = problems_.find(name);
    if (old == problems_.end() || old->second != why)
      ctx_.log().warn("interface ", name, ": ", why, "; trying again every interval");
  }
  problems_ = std::move(next);
}

// ---------------------------------------------------------------- peers

void L2Discovery::on_datagram(std::string_view datagram, const std::string& interface,
                              const asio::ip::udp::endpoint& from) {
  if (stopped_) return;
  ++received_;
  const std::string source = source_text(from, interface);
  auto decoded = decode(datagram);
  if (auto* r = std::get_if<Rejection>(&decoded)) return note_bad(interface, source, r->reason);
  const Announcement& a = std::get<Announcement>(decoded);
  // Our own, heard back through another port on the same segment.
  if (a.node_id == node_id_) return;
  ctx_.log().debug("heard ", a.node_id, " on ", interface, " from ", source, ": ",
                   a.addresses.empty() ? "no address" : join(a.addresses));
  const auto change = peers_.heard(a, interface, source, ctx_.now());
  // A flood of made-up ids must not flood the log: lines about nodes are
  // rate-limited, what was held back is counted in the next one.
  std::uint64_t held = 0;
  const bool say = node_lines_.allow(std::chrono::steady_clock::now(), &held);
  const std::string also = held ? " (" + std::to_string(held) + " lines held back)" : "";
  switch (change) {
    case PeerTable::Change::refused:
      if (say)
        ctx_.log().warn("node ", a.node_id, " on ", interface, " ignored: ",
                        settings_.max_peers, " nodes known already (l2.maxPeers)", also);
      return;
    case PeerTable::Change::added:
    case PeerTable::Change::new_link: {
      if (say)
        ctx_.log().info("node ", a.node_id, " heard on ", interface, " (",
                        a.addresses.empty() ? source : join(a.addresses), ")", also);
      publish_changed();
      // Answer a newcomer now, so it need not wait an interval to hear us;
      // once a second at most, however many arrive together.
      auto link = links_.find(interface);
      const auto now = ctx_.now();
      if (link != links_.end() &&
          (!link->second.last_reply || now - *link->second.last_reply >= kMinReplyGap)) {
        link->second.last_reply = now;
        announce(link->second);
      }
      break;
    }
    case PeerTable::Change::changed:
      if (say)
        ctx_.log().info("node ", a.node_id, " on ", interface, " now (",
                        a.addresses.empty() ? source : join(a.addresses), ")", also);
      publish_changed();
      break;
    case PeerTable::Change::refreshed:
      break;
  }
  // Hearing a peer only moves its own expiry later: the timer is re-armed
  // only when this sighting falls silent before it would fire. When it
  // fires, expire() looks at every peer once.
  const auto* peer = peers_.find(a.node_id);
  if (peer) {
    const auto& s = peer->links.at(interface);
    arm_expiry(s.last_heard + peers_.holdtime_of(s));
  }
}

void L2Discovery::arm_expiry(Clock::time_point at) {
  if (expiry_armed_ && *expiry_armed_ <= at) return;
  expiry_armed_ = at;
  // A little after the deadline, so the peer is past its holdtime then.
  expiry_timer_.expires_after(at - ctx_.now() + 10ms);
  std::weak_ptr<L2Discovery> weak = weak_from_this();
  expiry_timer_.async_wait([weak](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->stopped_) return;
    self->expiry_armed_.reset();
    self->expire();
  });
}

void L2Discovery::note_bad(const std::string& interface, const std::string& from,
                           const std::string& reason) {
  ++bad_;
  const auto now = ctx_.now();
  if (last_bad_log_ && now - *last_bad_log_ < kBadLogGap) {
    ++bad_not_logged_;
    ctx_.log().debug("ignored a datagram from ", from, " on ", interface, ": ", reason);
    return;
  }
  std::ostringstream more;
  if (bad_not_logged_) more << " (and " << bad_not_logged_ << " more since the last message)";
  ctx_.log().warn("ignored a datagram from ", from, " on ", interface, ": ", reason, more.str());
  last_bad_log_ = now;
  bad_not_logged_ = 0;
}

void L2Discovery::schedule_expiry() {
  auto next = peers_.next_expiry();
  expiry_armed_.reset();
  if (!next) return void(expiry_timer_.cancel());
  arm_expiry(*next);
}

void L2Discovery::expire() {
  auto expiry = peers_.expire(ctx_.now());
  for (const auto& id : expiry.gone) ctx_.log().info("node ", id, " no longer heard; forgotten");
  if (!expiry.gone.empty() || expiry.changed) publish_changed();
  schedule_expiry();
}

void L2Discovery::publish_changed() {
  Json::Value data(Json::objectValue);
  data["network"] = "l2";
  ctx_.events().publish("discovery.changed", data);
}

// ---------------------------------------------------------------- reports

void L2Discovery::discover(const std::function<void(Discovery)>& done) {
  if (!stopped_) expire();
  Discovery d = peers_.discovery(ctx_.now());
  if (ticked_ && links_.empty()) {
    std::vector<std::string> why;
    for (const auto& [name, text] : problems_) why.push_back(name + ": " + text);
    if (!list_error_.empty()) why.push_back(list_error_);
    d.error =
        "l2 discovery announces on no interface (" +
        (why.empty() ? std::string("none is up, multicast-capable and not loopback") : join(why)) +
        ")";
  }
  done(std::move(d));
}

Json::Value L2Discovery::peers_json() const {
  Json::Value list(Json::arrayValue);
  const auto now = ctx_.now();
  for (const Peer* p : peers_.live(now)) {
    Json::Value e(Json::objectValue);
    e["id"] = p->id;
    Json::Value addresses(Json::arrayValue), links(Json::arrayValue);
    std::optional<Clock::time_point> last;
    for (const auto& [interface, s] : p->links) {
      if (peers_.expired(s, now)) continue;
      Json::Value link(Json::objectValue);
      link["interface"] = interface;
      link["source"] = s.source;
      Json::Value announced(Json::arrayValue);
      for (const auto& a : s.addresses) {
        announced.append(a);
        if (std::find(addresses.begin(), addresses.end(), Json::Value(a)) == addresses.end())
          addresses.append(a);
      }
      link["addresses"] = announced;
      link["interval"] = s.interval;
      link["lastHeard"] = seconds_between(s.last_heard, now);  // seconds ago
      link["holdtime"] = static_cast<Json::Int64>(peers_.holdtime_of(s).count());
      links.append(link);
      if (!last || s.last_heard > *last) last = s.last_heard;
    }
    e["addresses"] = addresses;
    e["lastHeard"] = last ? seconds_between(*last, now) : Json::Int64(0);
    e["links"] = links;
    list.append(e);
  }
  return list;
}

Json::Value L2Discovery::status() const {
  Json::Value s(Json::objectValue);
  s["nodeId"] = node_id_;
  s["group"] = settings_.group.to_string();
  s["port"] = settings_.port;
  s["interval"] = static_cast<Json::Int64>(settings_.interval.count());
  Json::Value interfaces(Json::arrayValue);
  for (const auto& [name, link] : links_) interfaces.append(name);
  s["interfaces"] = interfaces;
  Json::Value problems(Json::objectValue);
  for (const auto& [name, why] : problems_) problems[name] = why;
  if (!list_error_.empty()) problems["*"] = list_error_;
  s["problems"] = problems;
  s["peers"] = peers_json();
  s["refusedPeers"] = static_cast<Json::UInt64>(peers_.refused());
  s["sent"] = static_cast<Json::UInt64>(sent_);
  s["received"] = static_cast<Json::UInt64>(received_);
  s["bad"] = static_cast<Json::UInt64>(bad_);
  s["sendErrors"] = static_cast<Json::UInt64>(send_errors_);
  return s;
}

// ---------------------------------------------------------------- config

void L2Discovery::config_changed() {
  if (!started_ || stopped_) return;
  std::string why;
  auto next = parse_settings(ctx_.config(), &why);
  if (!next) {
    ctx_.log().error(why, "; keeping the previous l2 settings");
    return;
  }
  if (*next == settings_) return;
  const bool reopen = next->group != settings_.group || next->port != settings_.port;
  settings_ = *next;
  peers_.set_holdtime(settings_.holdtime);
  if (reopen) {
    for (auto& [name, link] : links_) link.socket->close();
    links_.clear();
  }
  ctx_.log().info(
      "settings changed: every ", settings_.interval.count(), " s to [",
      settings_.group.to_string(), "]:", settings_.port, " on ",
      settings_.interfaces.empty() ? "every multicast interface" : join(settings_.interfaces));
  // At once, so the new interfaces or interval take effect now.
  tick_timer_.cancel();
  tick();
}

}  // namespace mnigs::l2
