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
    : context_(context), queue_(context, kCommandTimeout), retry_(context.executor()) {}

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
  queue_.enqueue(
      [this](CommandQueue::Finished finished) {
        identify([this, finished](std::string error) {
          if (!error.empty()) retry_identity_later();
          finished();
        });
      },
      [](const std::string&) {});
}

void IpTunnelPlugin::retry_identity_later() {
  retry_.expires_after(kIdentityRetry);
  retry_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !started_ || own_) return;
    queue_.enqueue(
        [this](CommandQueue::Finished finished) {
          identify([this, finished](std::string error) {
            if (!error.empty()) retry_identity_later();
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
    what["prefix4"] = up.prefix4;
    what["prefix6"] = up.prefix6;
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
  if (sentence != last_error_) context_.log().warn(sentence);
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
      if (tun_.empty())
        return then(refuse("noTun", "no interface holds cjdroute's address " + own_->ip6 +
                                        ": is cjdroute's TUN up? (or set iptunnel.tunDevice)"));
      context_.log().info("cjdroute's TUN device is ", tun_);
      then("");
    });
  });
}

void IpTunnelPlugin::record(std::int64_t connection, const Json::Value& what) {
  context_.store().put(kRecords + std::to_string(connection), compact(what));
}

void IpTunnelPlugin::forget(std::int64_t connection) {
  context_.store().erase(kRecords + std::to_string(connection));
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
    list.append(e);
  }
  gw["sessions"] = list;
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
    const auto family = v6 ? netcmd::Family::v6 : netcmd::Family::v4;
    const std::string address = what[v6 ? "address6" : "address4"].asString();
    if (address.empty()) continue;
    const int prefix = what.get(v6 ? "prefix6" : "prefix4", v6 ? 128 : 32).asInt();
    // cjdroute adds the address too when the gateway's reply arrives, and
    // removeConnection takes neither it nor RouteGen's routes away.
    c.push_back(netcmd::ip_command(
        family, {"addr", "del", address + (v6 ? "/128" : "/32"), "dev", device}, true));
    for (const auto& route : cjdroute_routes(address, prefix, v6))
      c.push_back(netcmd::ip_command(family, {"route", "del", route, "dev", device, "proto", "52"},
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
    struct Step {
      std::int64_t number;
      Json::Value what;
    };
    auto steps = std::make_shared<std::vector<Step>>();
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
    auto next = std::make_shared<std::function<void(std::size_t)>>();
    *next = [this, steps, next, then](std::size_t i) {
      if (i == steps->size()) return then("");
      const Step& s = (*steps)[i];
      call("IpTunnel_showConnection", connection_args(s.number),
           [this, s, i, next, then](const Reply& r, const std::string& error) {
             std::string why;
             auto shown = error.empty() ? parse_connection_shown(r.value, s.number, &why)
                                        : std::nullopt;
             if (!shown) {
               if (r.status != Reply::Status::remote_error && !error.empty()) return then(error);
               forget(s.number);  // "connection not found", or nothing we can read
               return (*next)(i + 1);
             }
             if (shown->key != s.what["key"].asString() ||
                 shown->outgoing != s.what["outgoing"].asBool()) {
               forget(s.number);  // another connection under a reused number
               return (*next)(i + 1);
             }
             context_.log().info("removing IpTunnel connection ", s.number, " (",
                                 shown->outgoing ? "to " : "from ", shown->key,
                                 ") left by an earlier run");
             remove_connection(s.number, [next, i, then](std::string error) {
               if (!error.empty()) return then(error);
               (*next)(i + 1);
             });
           });
    };
    (*next)(0);
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
