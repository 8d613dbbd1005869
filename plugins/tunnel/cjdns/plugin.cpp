// tunnel/cjdns: the plugin's life (start, stop, status, reset) and its
// calls to cjdroute. See iptunnel.hpp and README.md.
#include <json/reader.h>
#include <json/writer.h>

#include <algorithm>
#include <mnigs/log.hpp>
#include <stdexcept>

#include "collector.hpp"  // discovery/cjdns: describe()
#include "iptunnel.hpp"
#include "sysctl_knob.hpp"

namespace mnigs::iptunnel {

namespace {
constexpr std::chrono::milliseconds kCommandTimeout{10000};
// reset() deletes rules at each priority until none is left, at most this
// many; stop() cannot look at outcomes and issues this many blindly.
constexpr unsigned kResetRepeat = 16;
constexpr unsigned kStopRepeat = 4;
// While cjdroute has not told us our key, nodeInfo offers none: ask again.
constexpr std::chrono::seconds kIdentityRetry{10};
constexpr const char* kRecords = "connection/";
// A failed removal is tried again this often, this many times, and then
// every kRemovalSlowRetry for as long as it fails.
constexpr std::chrono::seconds kRemovalRetry{10};
constexpr unsigned kRemovalAttempts = 30;
constexpr std::chrono::seconds kRemovalSlowRetry{300};

std::string compact(const Json::Value& v) {
  Json::StreamWriterBuilder b;
  b["indentation"] = "";
  return Json::writeString(b, v);
}

std::optional<Json::Value> parse_json(const std::string& text) {
  Json::Value v;
  Json::CharReaderBuilder b;
  std::string errors;
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  if (!reader->parse(text.data(), text.data() + text.size(), &v, &errors) || !v.isObject())
    return std::nullopt;
  return v;
}

}  // namespace

IpTunnelPlugin::IpTunnelPlugin(PluginContext& context)
    : context_(context),
      queue_(context, kCommandTimeout),
      retry_(context.executor()),
      check_timer_(context.executor()),
      removal_timer_(context.executor()) {}

IpTunnelPlugin::~IpTunnelPlugin() {
  if (client_) client_->close();
}

void IpTunnelPlugin::start() {
  std::string why;
  auto settings = parse_settings(context_.config(), &why);
  if (!settings) throw std::runtime_error(why);
  settings_ = *settings;
  pool_.emplace(settings_.pool4, settings_.pool6, "iptunnel.pool4", "iptunnel.pool6");
  routes_.emplace(queue_, settings_.table, settings_.priority);
  started_ = true;
  context_.log().info("cjdns IpTunnel (pool ", settings_.pool4,
                      settings_.pool6.empty() ? "" : " " + settings_.pool6, ")");
  // Our key, so that nodeInfo can offer it (gateway_key() must not wait).
  // gateway_key() offers it only once an interface is seen to hold its
  // address (check()).
  queue_.enqueue(
      [this](CommandQueue::Finished finished) {
        check([this, finished] {
          if (!own_ || !own_seen_) retry_identity_later();
          finished();
        });
      },
      [](const std::string&) {});
  schedule_check();
}

void IpTunnelPlugin::retry_identity_later() {
  retry_.expires_after(kIdentityRetry);
  retry_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !started_ || (own_ && own_seen_)) return;
    queue_.enqueue(
        [this](CommandQueue::Finished finished) {
          check([this, finished] {
            if (!own_ || !own_seen_) retry_identity_later();
            finished();
          });
        },
        [](const std::string&) {});
  });
}

void IpTunnelPlugin::config_changed() {
  // confFile, adminFile and timeout are live: the next call reads them.
  std::string why;
  if (auto s = parse_settings(context_.config(), &why)) settings_.admin = s->admin;
}

void IpTunnelPlugin::stop() {
  if (!started_) return;
  started_ = false;
  retry_.cancel();
  check_timer_.cancel();
  removal_timer_.cancel();
  if (client_) client_->close();
  client_.reset();
  // stop() has no completion: cjdroute's connections cannot be removed
  // here (that needs answers); the records stay, and the next reset()
  // removes them. The kernel state goes now.
  std::vector<Command> commands;
  if (gateway_up_) commands = gateway_removal(sysctls_on_, tun_);
  for (const auto& [key, up] : uplinks_) {
    Json::Value what(Json::objectValue);
    what["address4"] = up.address4;
    what["address6"] = up.address6;
    for (auto& c : uplink_removal(up.device, what)) commands.push_back(std::move(c));
  }
  if (!uplinks_.empty())
    for (auto& c : routes_->removal(kStopRepeat)) commands.push_back(std::move(c));
  queue_.stop(commands);
  sessions_.clear();
  uplinks_.clear();
  gateway_up_ = false;
}

std::string IpTunnelPlugin::refuse(const std::string& kind, const std::string& sentence) {
  ++errors_[kind];
  ++refused_;
  // Anyone on the mesh can ask for sessions: a few lines a minute per kind
  // of refusal, the rest counted (status) and mentioned with the next.
  std::uint64_t held = 0;
  if (warnings_.allow(kind, context_.now(), &held))
    context_.log().warn(sentence, held ? " (" + std::to_string(held) + " more held back)" : "");
  last_error_ = sentence;
  return sentence;
}

void IpTunnelPlugin::call(const std::string& function, bencode::Value args, Answer answer) {
  std::string why;
  auto target = cjdns::find_admin(settings_.admin, cjdns::home_directory(), &why);
  if (!target) {
    degraded_ = why;
    Reply r;
    r.status = Reply::Status::io_error;
    return answer(r, refuse("unreachable", why));
  }
  target_ = *target;
  auto client = cjdns::AdminClient::create(
      context_.executor(), *target, settings_.admin.timeout,
      queue_.guard<const std::string&>([this](const std::string& what) {
        ++errors_["malformed"];
        context_.log().debug("ignored a datagram from cjdroute: ", what);
      }));
  client_ = client;
  const auto timeout = settings_.admin.timeout;
  client->call(function, std::move(args),
               queue_.guard<Reply>([this, client, function, target = *target, timeout,
                                    answer](Reply r) {
                 client->close();
                 if (client_ == client) client_.reset();
                 using S = Reply::Status;
                 if (r.status == S::ok) {
                   if (!degraded_.empty())
                     context_.log().info("cjdroute admin at ", target.endpoint(), " answers");
                   degraded_.clear();
                   return answer(r, "");
                 }
                 std::string sentence = cjdns::describe(r, function, target, timeout);
                 if (r.status == S::remote_error) {
                   // cjdroute answered: the caller decides (not_found may be fine).
                   degraded_.clear();
                   return answer(r, sentence);
                 }
                 const char* kind = r.status == S::auth_failed ? "authFailed"
                                    : r.status == S::timeout   ? "timeout"
                                                               : "unreachable";
                 degraded_ = sentence;
                 answer(r, refuse(kind, sentence));
               }));
}

void IpTunnelPlugin::identify(std::function<void(std::string)> then) {
  if (own_) return then("");
  call("Core_nodeInfo", bencode::Value::dict(), [this, then](const Reply& r, std::string error) {
    if (!error.empty()) return then(error);
    std::string why;
    auto me = parse_node_info(r.value, &why);
    if (!me) return then(refuse("malformed", "cjdroute's Core_nodeInfo is refused: " + why));
    own_ = *me;
    context_.log().info("cjdroute's key is ", own_->key, " (", own_->ip6, ")");
    then("");
  });
}

void IpTunnelPlugin::find_tun(std::function<void(std::string)> then) {
  if (!settings_.tun_device.empty()) {
    tun_ = settings_.tun_device;
    return then("");
  }
  if (!tun_.empty()) return then("");
  identify([this, then](std::string error) {
    if (!error.empty()) return then(error);
    Command show;
    show.argv = {"ip", "-j", "-6", "addr", "show"};
    queue_.run(show, [this, show, then](const CommandOutcome& o) {
      if (!netcmd::succeeded(o)) return then(netcmd::failure_sentence(show, o));
      tun_ = device_holding(o.out, own_->ip6);
      own_seen_ = !tun_.empty();
      if (tun_.empty())
        return then(refuse("noTun", "no interface holds cjdroute's address " + own_->ip6 +
                                        ": is cjdroute's TUN up? (or set iptunnel.tunDevice)"));
      context_.log().info("cjdroute's TUN device is ", tun_);
      then("");
    });
  });
}

void IpTunnelPlugin::record(std::int64_t connection, const Json::Value& what) {
  records_[connection] = what;
  context_.store().put(kRecords + std::to_string(connection), compact(what));
}

void IpTunnelPlugin::forget(std::int64_t connection) {
  records_.erase(connection);
  context_.store().erase(kRecords + std::to_string(connection));
}

void IpTunnelPlugin::forget_if(std::int64_t connection, const std::string& key, bool outgoing) {
  // After a restart of cjdroute the number may be recorded for a newer
  // connection: that record stays.
  auto it = records_.find(connection);
  if (it == records_.end() || it->second["key"].asString() != key ||
      it->second["outgoing"].asBool() != outgoing)
    return;
  forget(connection);
}

bool IpTunnelPlugin::recorded(const Connection& c) const {
  auto it = records_.find(c.number);
  return it != records_.end() && it->second["key"].asString() == c.key &&
         it->second["outgoing"].asBool() == c.outgoing;
}

bool IpTunnelPlugin::Expect::matches(const Connection& c) const {
  if (c.key != key || c.outgoing != outgoing) return false;
  // An incoming connection is ours only with the addresses we allowed: the
  // same key may hold the operator's allowance too.
  if (outgoing) return true;
  return c.ip4 == address4 && c.ip6 == address6;
}

void IpTunnelPlugin::show(std::int64_t n, std::function<void(std::string, Shown)> then) {
  call("IpTunnel_showConnection", connection_args(n),
       [this, n, then](const Reply& r, const std::string& error) {
         if (r.status == Reply::Status::remote_error && r.error == kConnectionNotFound)
           return then("", std::nullopt);
         if (!error.empty()) return then(error, std::nullopt);
         std::string why;
         auto c = parse_connection_shown(r.value, n, &why);
         if (!c) return then(refuse("malformed", "cjdroute's IpTunnel_showConnection: " + why), {});
         then("", c);
       });
}

void IpTunnelPlugin::scan(std::function<void(std::string, std::vector<Connection>)> then) {
  call("IpTunnel_listConnections", bencode::Value::dict(),
       [this, then](const Reply& r, const std::string& error) {
         std::string why;
         auto listed = error.empty() ? parse_connections(r.value, &why) : std::nullopt;
         if (!listed) {
           if (error.empty()) refuse("malformed", "cjdroute's IpTunnel_listConnections: " + why);
           return then(error.empty() ? why : error, {});
         }
         scan_from(std::make_shared<std::vector<std::int64_t>>(std::move(*listed)),
                   std::make_shared<std::vector<Connection>>(), 0, then);
       });
}

void IpTunnelPlugin::scan_from(std::shared_ptr<std::vector<std::int64_t>> numbers,
                               std::shared_ptr<std::vector<Connection>> out, std::size_t i,
                               std::function<void(std::string, std::vector<Connection>)> then) {
  if (i == numbers->size()) return then("", std::move(*out));
  show((*numbers)[i], [this, numbers, out, i, then](std::string error, Shown c) {
    if (!error.empty()) return then(error, {});
    if (c) out->push_back(*c);  // else removed meanwhile
    scan_from(numbers, out, i + 1, then);
  });
}

void IpTunnelPlugin::remove_checked(Expect e, std::function<void(std::string, Shown)> then) {
  if (e.number < 0) {
    // The number was never learnt (the reply to allow/connect was lost):
    // whatever cjdroute holds for this key (and these addresses).
    return scan([this, e, then](std::string error, std::vector<Connection> all) {
      if (!error.empty()) return then(error, std::nullopt);
      std::vector<Connection> found;
      for (auto& c : all)
        if (e.matches(c)) found.push_back(c);
      Shown last = found.empty() ? Shown() : Shown(found.back());
      remove_all(found, [then, last](std::string error) { then(error, last); });
    });
  }
  show(e.number, [this, e, then](std::string error, Shown c) {
    if (!error.empty()) return then(error, std::nullopt);
    if (!c || !e.matches(*c)) {
      // Gone, or the number names another connection now (cjdroute
      // restarted): ours is not there to remove.
      if (c)
        context_.log().warn("IpTunnel connection ", e.number, " is now ",
                            c->outgoing ? "to " : "from ", c->key,
                            ", not the one this plugin made: left alone");
      forget_if(e.number, e.key, e.outgoing);
      return then("", std::nullopt);
    }
    remove_connection(e.number, [then, c](std::string error) {
      then(error, error.empty() ? c : Shown());
    });
  });
}

void IpTunnelPlugin::remove_all(std::vector<Connection> found,
                                std::function<void(std::string)> then) {
  if (found.empty()) return then("");
  const Connection c = found.back();
  found.pop_back();
  context_.log().info("removing IpTunnel connection ", c.number, " (",
                      c.outgoing ? "to " : "from ", c.key, "): left over by this plugin");
  remove_connection(c.number, [this, found, then](std::string error) mutable {
    if (!error.empty()) return then(error);
    remove_all(std::move(found), then);
  });
}

void IpTunnelPlugin::clear_issued(const Connection& c, std::function<void()> then) {
  // What cjdroute recorded, never what the gateway's params claimed: only
  // these prefixes were given to RouteGen (tunnel/IpTunnel.c addAddress),
  // and RouteGen_removePrefix matches the address and length exactly.
  auto prefixes = std::make_shared<std::vector<bencode::Value>>();
  std::vector<Command> kernel;
  for (bool v6 : {false, true}) {
    const std::string& a = v6 ? c.ip6 : c.ip4;
    if (a.empty()) continue;
    const int prefix = v6 ? c.ip6_prefix : c.ip4_prefix;
    const int alloc = v6 ? c.ip6_alloc : c.ip4_alloc;
    if (prefix < (v6 ? 128 : 32)) prefixes->push_back(routegen_prefix_args(a, prefix));
    // cjdroute put addr/alloc on its TUN (NetDev_addAddress); never take
    // the node's own mesh address away with it.
    if (!tun_.empty() && !(own_ && v6 && a == own_->ip6))
      kernel.push_back(netcmd::ip_command(
          v6 ? netcmd::Family::v6 : netcmd::Family::v4,
          {"addr", "del", a + "/" + std::to_string(alloc), "dev", tun_}, true));
  }
  auto commit = [this, prefixes, kernel, then](bool changed) {
    auto finish = [this, kernel, then] {
      queue_.run_all(kernel, true, [then](std::string) { then(); });
    };
    if (!changed || tun_.empty()) return finish();
    call("RouteGen_commit", routegen_commit_args(tun_),
         [this, finish](const Reply&, const std::string& error) {
           if (!error.empty()) context_.log().warn("RouteGen_commit: ", error);
           finish();
         });
  };
  auto next = std::make_shared<std::function<void(std::size_t, bool)>>();
  // Owned by the pending call's handler, not by itself: no cycle.
  std::weak_ptr<std::function<void(std::size_t, bool)>> weak = next;
  *next = [this, prefixes, commit, weak](std::size_t i, bool changed) {
    if (i == prefixes->size()) return commit(changed);
    auto self = weak.lock();
    call("RouteGen_removePrefix", (*prefixes)[i],
         [this, self, i, changed](const Reply& r, const std::string& error) {
           if (!error.empty() && r.error != "no_such_route")
             context_.log().warn("RouteGen_removePrefix: ", error);
           (*self)(i + 1, changed || error.empty());
         });
  };
  (*next)(0, false);
}

void IpTunnelPlugin::remove_connection(std::int64_t n, std::function<void(std::string)> then) {
  call("IpTunnel_removeConnection", connection_args(n),
       [this, n, then](const Reply& r, const std::string& error) {
         if (error.empty() || (r.status == Reply::Status::remote_error && r.error == kNotFound)) {
           forget(n);
           return then("");
         }
         if (r.status == Reply::Status::remote_error) ++errors_["cjdrouteError"];
         then(error);
       });
}

Json::Value IpTunnelPlugin::status() const {
  Json::Value s(Json::objectValue);
  s["method"] = method();
  s["admin"] = target_ ? target_->endpoint() : "";
  s["key"] = own_ ? own_->key : "";
  s["keyOnInterface"] = own_seen_;
  s["tunDevice"] = tun_;
  s["pendingOperations"] = Json::UInt64(queue_.pending());
  Json::Value errors(Json::objectValue);
  for (const auto& [kind, n] : errors_) errors[kind] = Json::UInt64(n);
  s["errors"] = errors;
  s["refused"] = Json::UInt64(refused_);
  s["lastError"] = last_error_;
  s["error"] = degraded_;

  Json::Value gw(Json::objectValue);
  gw["up"] = gateway_up_;
  Json::Value list(Json::arrayValue);
  for (const auto& [id, g] : sessions_) {
    Json::Value e(Json::objectValue);
    e["id"] = id;
    e["subscriber"] = g.session.subscriber_address;
    e["key"] = g.session.subscriber_key;
    e["connection"] = Json::Int64(g.connection);
    e["address4"] = g.address4;
    e["address6"] = g.address6;
    e["broken"] = g.broken;
    list.append(e);
  }
  gw["sessions"] = list;
  Json::Value pending(Json::arrayValue);
  for (const auto& p : pending_) {
    Json::Value e(Json::objectValue);
    e["key"] = p.expect.key;
    e["connection"] = Json::Int64(p.expect.number);
    e["address4"] = p.expect.address4;
    e["address6"] = p.expect.address6;
    e["attempts"] = p.attempts;
    pending.append(e);
  }
  // Connections not yet confirmed removed: their addresses stay reserved.
  gw["pendingRemovals"] = pending;
  s["gateway"] = gw;

  Json::Value sub(Json::arrayValue);
  for (const auto& [key, up] : uplinks_) {
    Json::Value u(Json::objectValue);
    u["session"] = up.session.id;
    u["gateway"] = up.session.gateway_address;
    u["gatewayKey"] = up.session.params["gatewayKey"].asString();
    u["connection"] = Json::Int64(up.connection);
    u["interface"] = up.device;
    u["routed"] = routes_ && routes_->holds(key);
    u["broken"] = up.broken;
    sub.append(u);
  }
  s["subscriber"]["sessions"] = sub;
  return s;
}

std::vector<Command> IpTunnelPlugin::uplink_removal(const std::string& device,
                                                    const Json::Value& what) {
  std::vector<Command> c;
  if (device.empty()) return c;
  for (bool v6 : {false, true}) {
    const std::string address = what[v6 ? "address6" : "address4"].asString();
    if (address.empty()) continue;
    c.push_back(netcmd::ip_command(v6 ? netcmd::Family::v6 : netcmd::Family::v4,
                                   {"addr", "del", address + (v6 ? "/128" : "/32"), "dev", device},
                                   true));
  }
  return c;
}

void IpTunnelPlugin::reset(Done done) {
  if (!started_) return done("cannot reset: the iptunnel plugin is not running");
  queue_.enqueue(
      [this, done](CommandQueue::Finished finished) {
        netcmd::recorded_knobs(queue_, [this, done, finished](std::vector<std::string> knobs) {
          for (const auto& k : sysctls_on_)
            if (std::find(knobs.begin(), knobs.end(), k) == knobs.end()) knobs.push_back(k);
          context_.store().get("gateway", queue_.guard<std::optional<std::string>>(
              [this, done, finished, knobs](std::optional<std::string> gateway) {
                auto kernel = std::make_shared<std::vector<Command>>();
                std::string device = tun_;
                if (gateway)
                  if (auto g = parse_json(*gateway)) device = (*g)["device"].asString();
                *kernel = gateway_removal(knobs, device);
                for (auto& c : routes_->removal(kResetRepeat)) kernel->push_back(std::move(c));
                context_.store().list(kRecords, queue_.guard<std::vector<KeyValueStore::Row>>(
                    [this, done, finished, kernel](std::vector<KeyValueStore::Row> rows) {
                      reset_connections(rows, kernel.get(), [this, done, finished, kernel](
                                                                std::string error) {
                        sessions_.clear();
                        uplinks_.clear();
                        pool_.emplace(settings_.pool4, settings_.pool6, "iptunnel.pool4",
                                      "iptunnel.pool6");
                        // Removals still failing keep their addresses.
                        for (const auto& p : pending_) {
                          Json::Value held(Json::objectValue);
                          held["address4"] = p.expect.address4;
                          held["address6"] = p.expect.address6;
                          std::string ignored;
                          pool_->allot(held, &ignored);
                        }
                        gateway_up_ = false;
                        queue_.run_all(*kernel, true, [this, done, finished,
                                                       error](std::string kernel_error) {
                          sysctls_on_.clear();
                          netcmd::forget_knobs(context_.store());
                          context_.store().erase("gateway");
                          std::string e = !error.empty() ? error : kernel_error;
                          if (!e.empty()) context_.log().warn("reset incomplete: ", e);
                          done(e.empty() ? "" : "reset of the iptunnel plugin incomplete: " + e);
                          finished();
                        });
                      });
                    }));
              }));
        });
      },
      [done](const std::string& reason) { done(reason); });
}

// The recorded connections that cjdroute still has (listed, and shown with
// the recorded key and direction: after a restart of cjdroute its numbers
// start again from 0 and may name the operator's own connections) are
// removed; every record's addresses and routes join the kernel removals.
// Records whose connection cjdroute could not be asked about are kept for
// the next reset.
void IpTunnelPlugin::reset_connections(std::vector<KeyValueStore::Row> rows,
                                       std::vector<Command>* kernel,
                                       std::function<void(std::string)> then) {
  if (rows.empty()) return then("");
  call("IpTunnel_listConnections", bencode::Value::dict(), [this, rows, kernel, then](
                                                              const Reply& r,
                                                              const std::string& error) {
    std::string why;
    auto listed = error.empty() ? parse_connections(r.value, &why) : std::nullopt;
    if (!listed) {
      if (error.empty()) refuse("malformed", "cjdroute's IpTunnel_listConnections: " + why);
      return then(error.empty() ? why : error);
    }
    auto steps = std::make_shared<std::vector<ResetStep>>();
    for (const auto& [key, value] : rows) {
      auto what = parse_json(value);
      const std::string n = key.substr(std::string(kRecords).size());
      if (!what || n.empty() || n.size() > 10 || n.find_first_not_of("0123456789") != n.npos) {
        context_.store().erase(key);
        continue;
      }
      for (auto& c : uplink_removal((*what)["device"].asString(), *what))
        kernel->push_back(std::move(c));
      const std::int64_t number = std::stoll(n);
      if (std::find(listed->begin(), listed->end(), number) == listed->end())
        forget(number);  // gone with a restart of cjdroute
      else
        steps->push_back({number, *what});
    }
    reset_from(steps, 0, then);
  });
}

// One recorded connection after another; each is shown first and removed
// only when it is still the one recorded.
void IpTunnelPlugin::reset_from(std::shared_ptr<std::vector<ResetStep>> steps, std::size_t i,
                                std::function<void(std::string)> then) {
  if (i == steps->size()) return then("");
  const ResetStep& s = (*steps)[i];
  Expect e;
  e.number = s.number;
  e.key = s.what["key"].asString();
  e.outgoing = s.what["outgoing"].asBool();
  e.address4 = s.what["address4"].asString();
  e.address6 = s.what["address6"].asString();
  remove_checked(e, [this, steps, i, then](std::string error, Shown removed) {
    if (!error.empty()) return then(error);
    auto next = [this, steps, i, then] { reset_from(steps, i + 1, then); };
    if (removed && removed->outgoing) return clear_issued(*removed, next);
    next();
  });
}

void IpTunnelPlugin::schedule_check() {
  check_timer_.expires_after(std::chrono::seconds(settings_.check_interval));
  check_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !started_) return;
    queue_.enqueue(
        [this](CommandQueue::Finished finished) {
          check([this, finished] {
            finished();
            schedule_check();
          });
        },
        [](const std::string&) {});
  });
}

// cjdroute may have restarted since the last look: its key (a new config),
// its TUN (a new device, without the gateway's addresses), its connection
// numbers (from 0 again, perhaps naming the operator's). Nothing found
// wrong here is repaired by guessing: the gateway's TUN addresses are put
// back (idempotent), a session whose connection is gone is marked broken.
void IpTunnelPlugin::check(std::function<void()> then) {
  call("Core_nodeInfo", bencode::Value::dict(), [this, then](const Reply& r, std::string error) {
    if (!error.empty()) return then();
    std::string why;
    auto me = parse_node_info(r.value, &why);
    if (!me) {
      refuse("malformed", "cjdroute's Core_nodeInfo is refused: " + why);
      return then();
    }
    if (own_ && own_->key != me->key) {
      context_.log().warn("cjdroute's key changed from ", own_->key, " to ", me->key);
      if (settings_.tun_device.empty()) tun_.clear();
    }
    own_ = *me;
    Command show;
    show.argv = {"ip", "-j", "-6", "addr", "show"};
    queue_.run(show, [this, show, then](const CommandOutcome& o) {
      const std::string holder = netcmd::succeeded(o) ? device_holding(o.out, own_->ip6) : "";
      const bool seen = !holder.empty();
      if (seen != own_seen_)
        context_.log().info(seen ? "cjdroute's address " + own_->ip6 + " is on " + holder
                                 : "no interface holds cjdroute's address " + own_->ip6 +
                                       ": the cjdns tunnel key is not offered");
      own_seen_ = seen;
      if (settings_.tun_device.empty() && seen) tun_ = holder;
      std::vector<Command> again;
      if (gateway_up_ && !tun_.empty()) {
        if (pool_->has4())
          again.push_back(netcmd::ip_command(
              netcmd::Family::v4,
              {"addr", "replace",
               pool_->gateway4() + "/" + std::to_string(pool_->prefix_length4()), "dev", tun_}));
        if (pool_->has6())
          again.push_back(netcmd::ip_command(
              netcmd::Family::v6,
              {"addr", "replace",
               pool_->gateway6() + "/" + std::to_string(pool_->prefix_length6()), "dev", tun_,
               "nodad"}));
      }
      queue_.run_all(again, true, [this, then](std::string) { check_connections(then); });
    });
  });
}

void IpTunnelPlugin::check_connections(std::function<void()> then) {
  if (sessions_.empty() && uplinks_.empty()) return then();
  scan([this, then](std::string error, std::vector<Connection> all) {
    if (!error.empty()) return then();
    auto find = [&all](std::int64_t n) -> const Connection* {
      for (const auto& c : all)
        if (c.number == n) return &c;
      return nullptr;
    };
    auto lost = [this](std::int64_t n, const std::string& key, bool outgoing,
                       const std::string& what, std::string& broken) {
      if (!broken.empty()) return;
      broken = "IpTunnel connection " + std::to_string(n) + " " + what +
               " is gone from cjdroute (restarted?): the session carries no traffic";
      forget_if(n, key, outgoing);
      refuse("connectionLost", broken);
    };
    for (auto& [id, g] : sessions_) {
      if (g.connection < 0) continue;
      Expect e{g.connection, g.session.subscriber_key, false, g.address4, g.address6};
      const Connection* c = find(g.connection);
      if (!c || !e.matches(*c)) {
        lost(g.connection, g.session.subscriber_key, false, "of session " + id, g.broken);
        g.connection = -1;
      }
    }
    std::vector<std::pair<std::string, std::string>> drops;
    for (auto& [key, up] : uplinks_) {
      if (up.connection < 0) continue;
      const Connection* c = find(up.connection);
      if (!c || c->key != up.session.params["gatewayKey"].asString() || !c->outgoing) {
        lost(up.connection, up.session.params["gatewayKey"].asString(), true,
             "to the gateway " + up.session.gateway_address, up.broken);
        up.connection = -1;
        continue;
      }
      if (auto why = issued_refusal(*c, up.address4, up.address6); !why.empty())
        drops.emplace_back(key, why);
    }
    auto next = std::make_shared<std::function<void(std::size_t)>>();
    std::weak_ptr<std::function<void(std::size_t)>> weak = next;
    *next = [this, drops, weak, then](std::size_t i) {
      if (i == drops.size()) return then();
      auto self = weak.lock();
      drop_uplink(drops[i].first, drops[i].second, [self, i] { (*self)(i + 1); });
    };
    (*next)(0);
  });
}

void IpTunnelPlugin::schedule_removals() {
  if (pending_.empty()) return;
  removal_timer_.expires_after(kRemovalRetry);
  removal_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !started_) return;
    queue_.enqueue(
        [this](CommandQueue::Finished finished) {
          retry_removals(0, [this, finished] {
            finished();
            schedule_removals();
          });
        },
        [](const std::string&) {});
  });
}

void IpTunnelPlugin::retry_removals(std::size_t i, std::function<void()> then) {
  const auto now = std::chrono::steady_clock::now();
  while (i < pending_.size() && pending_[i].next_try > now) ++i;
  if (i >= pending_.size()) return then();
  remove_checked(pending_[i].expect, [this, i, then](std::string error, Shown) {
    if (i >= pending_.size()) return then();  // reset meanwhile
    PendingRemoval& p = pending_[i];
    if (error.empty()) {
      context_.log().info("IpTunnel connection of ", p.expect.key, " removed; ",
                          p.expect.address4, " ", p.expect.address6, " are free again");
      pool_->release({p.expect.address4, p.expect.address6});
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
      return retry_removals(i, then);
    }
    if (++p.attempts >= kRemovalAttempts)
      p.next_try = std::chrono::steady_clock::now() + kRemovalSlowRetry;
    if (p.attempts == kRemovalAttempts)
      refuse("removalFailed",
             "the IpTunnel connection of " + p.expect.key + " is not removed after " +
                 std::to_string(kRemovalAttempts) +
                 " tries; its addresses stay reserved, and it is tried every 5 minutes: " +
                 error);
    retry_removals(i + 1, then);
  });
}

void IpTunnelPlugin::subscriber_key(std::function<void(std::string, std::string)> done) {
  if (!started_) return done("the iptunnel plugin is not running", "");
  if (own_) return done("", own_->key);
  queue_.enqueue(
      [this, done](CommandQueue::Finished finished) {
        identify([this, done, finished](std::string error) {
          if (!error.empty())
            done("cannot learn this node's cjdns key from cjdroute: " + error, "");
          else
            done("", own_->key);
          finished();
        });
      },
      [done](const std::string& reason) { done(reason, ""); });
}

}  // namespace mnigs::iptunnel
