#include "plugin.hpp"

#include "found.hpp"
#include "link.hpp"
#include "util/token.hpp"
#include "wstunnel.hpp"
#include "wstunnel_link.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <limits>
#include <stdexcept>

namespace mnigs::httptunnel {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::string_view kClaimPrefix = "claim:";
// How long a key stays known after its last node left (WStunnel: an hour).
constexpr auto kForgetAfter = std::chrono::hours(1);

// Answers an upgrade that is refused, then closes the connection.
void refuse_upgrade(tcp::socket socket, unsigned status, const std::string& body) {
  const char* reason = status == 403   ? "Forbidden"
                       : status == 404 ? "Not Found"
                       : status == 503 ? "Service Unavailable"
                                       : "Bad Request";
  auto s = std::make_shared<tcp::socket>(std::move(socket));
  auto text = std::make_shared<std::string>(
      "HTTP/1.1 " + std::to_string(status) + " " + reason +
      "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  net::async_write(*s, net::buffer(*text), [s, text](boost::system::error_code, std::size_t) {
    boost::system::error_code ec;
    s->shutdown(tcp::socket::shutdown_both, ec);
    s->close(ec);
  });
}

// Status' "keys": each token ("token:01234567...") and named service
// ("<service>.<id>") the front counts.
Json::Value key_metrics(const KeyMetrics& table) {
  Json::Value keys(Json::objectValue);
  for (const auto& [name, k] : table.view()) {
    Json::Value v(Json::objectValue);
    v["requests"] = Json::UInt64(k->requests);
    v["bytesIn"] = Json::UInt64(k->bytes_in);
    v["bytesOut"] = Json::UInt64(k->bytes_out);
    v["errors"] = Json::UInt64(k->errors);
    Json::Value l(Json::objectValue);
    l["p50"] = k->latency.quantile_ms(0.5);
    l["p99"] = k->latency.quantile_ms(0.99);
    l["max"] = k->latency.max_ms();
    l["count"] = Json::UInt64(k->latency.count());
    l["sum"] = k->latency.sum_ms();
    v["latencyMs"] = l;
    keys[name] = v;
  }
  return keys;
}

}  // namespace

// The gateway's side: the registry, the front and the nodes' links. Lives
// on the data thread; the plugin reaches it only by posting there.
struct HttpTunnelPlugin::Gateway : std::enable_shared_from_this<Gateway> {
  Gateway(net::io_context& io, Logger& log, const Settings& s,
          std::map<std::string, std::string> claims,
          std::function<void(std::map<std::string, std::string>)> save)
      : io(io), log(log), settings(s), registry(s.policy, s.queue, kForgetAfter), timer(io) {
    registry.load_claims(std::move(claims));
    registry.set_wstunnel_clients(s.wstunnel_clients);
    registry.on_claims_changed = [this, save = std::move(save)] { save(registry.claims()); };
    // Only WStunnel links hold no secret; the registry forgot them already.
    registry.on_evicted = [this](Tunnel& t, const std::string& why) {
      for (const auto& l : wstunnel_links)
        if (l.get() == &t) {
          this->log.info("httptunnel: WStunnel client ", l->describe(), " let go: ", why);
          net::post(this->io, [l, why] { l->close(why); });
          return;
        }
    };
  }

  std::string start() {
    FrontOptions o;
    o.domain = settings.domain;
    o.timeout = settings.timeout;
    std::weak_ptr<Gateway> weak = shared_from_this();
    front = std::make_unique<Front>(
        io, registry, log, o,
        Front::Hooks{[weak](bool local) {
                       auto self = weak.lock();
                       return self ? self->stats(local) : std::string();
                     },
                     [weak](tcp::socket s, http::request_header<> head, std::string pending) {
                       if (auto self = weak.lock())
                         self->accept(std::move(s), std::move(head), std::move(pending));
                     }});
    const std::string errors = front->listen(settings.listen);
    tick();
    return errors;
  }

  void stop() {
    stopped = true;
    timer.cancel();
    if (front) front->stop();
    auto all = std::move(links);
    links.clear();
    for (auto& l : all) l->close("the plugin stops");
    auto ws = std::move(wstunnel_links);
    wstunnel_links.clear();
    for (auto& l : ws) l->close("the plugin stops");
  }

  // Links held at once, in all and from one address: a link leaves the
  // front's connection limits when it is handed over.
  static constexpr std::size_t kMaxLinks = 1024, kMaxLinksPerAddress = 16;

  // Why a new link from `socket`'s peer is one too many, or "".
  std::string too_many(const tcp::socket& socket) const {
    if (links.size() + wstunnel_links.size() >= kMaxLinks)
      return "this gateway holds " + std::to_string(kMaxLinks) + " links already";
    boost::system::error_code ec;
    const auto peer = socket.remote_endpoint(ec);
    if (ec) return "";
    std::size_t mine = 0;
    const auto same = [&](const std::string& describe) {
      const std::string host = peer.address().to_string();
      const std::string shown = peer.address().is_v6() ? "[" + host + "]:" : host + ":";
      return describe.starts_with(shown);
    };
    for (const auto& l : links) mine += same(l->describe());
    for (const auto& l : wstunnel_links) mine += same(l->describe());
    if (mine >= kMaxLinksPerAddress)
      return "this address holds " + std::to_string(kMaxLinksPerAddress) + " links already";
    return "";
  }

  // A node's upgrade request, from the front or the daemon's port.
  void accept(tcp::socket socket, http::request_header<> head, std::string pending) {
    if (stopped) return;
    if (const std::string why = too_many(socket); !why.empty()) {
      ++upgrades_refused;
      return refuse_upgrade(std::move(socket), 503, why + "\n");
    }
    if (boost::beast::websocket::is_upgrade(http::request<http::empty_body>(head)))
      return accept_wstunnel(std::move(socket), std::move(head), std::move(pending));
    if (!link::wants(head)) {
      ++upgrades_refused;
      return refuse_upgrade(std::move(socket), 400,
                            "Upgrade to " + std::string(link::kProtocol) + " expected\n");
    }
    const link::Read r = link::read(head);
    if (r.refusal) {
      ++upgrades_refused;
      return refuse_upgrade(std::move(socket), r.refusal.status, r.refusal.body);
    }
    // Refused before the 101, so the node reads why.
    if (const std::string why = registry.refusal(r.hello.key, r.hello.secret); !why.empty()) {
      ++upgrades_refused;
      log.warn("httptunnel: a node refused for ", shown(r.hello.key), ": ", why);
      return refuse_upgrade(std::move(socket), 403, why + "\n");
    }
    H2Link::Options o;
    o.ping_timeout = settings.ping_timeout;
    std::weak_ptr<Gateway> weak = shared_from_this();
    const std::string key = r.hello.key;
    auto l = std::make_shared<H2Link>(
        std::move(socket), r.hello, std::move(pending), o, log,
        [weak, key](H2Link& gone, const std::string& why) {
          auto self = weak.lock();
          if (!self) return;
          self->registry.detach(key, gone, std::chrono::steady_clock::now());
          self->log.info("httptunnel: ", gone.describe(), " left ", shown(key), ": ", why);
          for (auto it = self->links.begin(); it != self->links.end(); ++it)
            if (it->get() == &gone) {
              self->links.erase(it);
              break;
            }
        });
    // The registry says whether this node may hold the key; the 101 goes
    // only to one that may, and waiting requests go to it once it is up.
    if (const std::string why = registry.attach(key, r.hello.secret, *l,
                                                std::chrono::steady_clock::now());
        !why.empty()) {
      l->close(why);  // checked before the link was made: not reached
      return;
    }
    l->on_room([weak, key](H2Link& link) {
      if (auto self = weak.lock()) self->registry.room(key, link);
    });
    links.insert(l);
    log.info("httptunnel: ", l->describe(), " holds ", shown(key));
    l->start();
  }

  // A WStunnel client: its token in Origin, no secret.
  void accept_wstunnel(tcp::socket socket, http::request_header<> head, std::string pending) {
    const wstunnel::Announced a = wstunnel::announced_token(head);
    if (a.refusal) {
      ++upgrades_refused;
      return refuse_upgrade(std::move(socket), a.refusal.status, a.refusal.body);
    }
    const std::string key = "token:" + a.token;
    // Refused before the handshake, so the client reads why.
    if (const std::string why = registry.refusal(key, ""); !why.empty()) {
      ++upgrades_refused;
      log.warn("httptunnel: a WStunnel client refused: ", why);
      return refuse_upgrade(std::move(socket), 403, why + "\n");
    }
    WstunnelLinkOptions o;
    o.ping_timeout = settings.ping_timeout;
    std::weak_ptr<Gateway> weak = shared_from_this();
    auto l = std::make_shared<WstunnelLink>(
        std::move(socket), o, log,
        WstunnelLink::Hooks{[weak, key](WstunnelLink& gone) {
                              auto self = weak.lock();
                              if (!self) return;
                              self->registry.detach(key, gone, std::chrono::steady_clock::now());
                              self->wstunnel_links.erase(gone.shared_from_this());
                            },
                            [weak, key](WstunnelLink& link) {
                              if (auto self = weak.lock()) self->registry.room(key, link);
                            }});
    if (const std::string why =
            registry.attach(key, "", *l, std::chrono::steady_clock::now());
        !why.empty()) {
      l->close(why);  // checked just before: not reached
      return;
    }
    wstunnel_links.insert(l);
    log.info("httptunnel: WStunnel client ", l->describe(), " holds ", shown(key));
    l->start(std::move(head), std::move(pending));
  }

  std::string stats(bool local) const {
    std::string out = "tunnels=" + std::to_string(registry.tunnels()) + "\n";
    if (!local) return out + "More stats available when called from localhost...\n";
    int n = 0;
    for (const auto& k : registry.view()) {
      char num[16];
      std::snprintf(num, sizeof num, "%02d", n++);
      // Tokens are secrets to those who make requests: only a prefix shows.
      out += "\ntunnel" + std::string(num) + "_token=" + shown(k.key) + "\n";
      out += "tunnel" + std::string(num) + "_req_pending=" + std::to_string(k.waiting) + "\n";
      for (const auto& t : k.tunnels) out += "tunnel" + std::string(num) + "_tun_addr=" + t + "\n";
    }
    out += "\nreq_pending=" + std::to_string(registry.waiting()) + "\n";
    return out;
  }

  Json::Value status() const {
    Json::Value s(Json::objectValue);
    Json::Value listening(Json::arrayValue);
    if (front)
      for (const auto& a : front->listening()) listening.append(a);
    s["listening"] = listening;
    s["tunnels"] = Json::UInt64(registry.tunnels());
    s["waiting"] = Json::UInt64(registry.waiting());
    s["upgradesRefused"] = Json::UInt64(upgrades_refused);
    Json::Value holders(Json::arrayValue);
    for (const auto& k : registry.view()) {
      Json::Value v(Json::objectValue);
      v["key"] = shown(k.key);
      Json::Value t(Json::arrayValue);
      for (const auto& d : k.tunnels) t.append(d);
      v["tunnels"] = t;
      v["waiting"] = Json::UInt64(k.waiting);
      v["bound"] = k.bound;
      holders.append(v);
    }
    s["holders"] = holders;
    s["keys"] = front ? key_metrics(front->key_metrics()) : Json::Value(Json::objectValue);
    if (front) {
      const auto& c = front->counters();
      Json::Value f(Json::objectValue);
      f["connections"] = Json::UInt64(c.connections.load());
      f["overLimit"] = Json::UInt64(c.over_limit.load());
      f["requests"] = Json::UInt64(c.requests.load());
      f["badRequests"] = Json::UInt64(c.bad_requests.load());
      f["slowHeads"] = Json::UInt64(c.slow_heads.load());
      f["notFound"] = Json::UInt64(c.not_found.load());
      f["queueFull"] = Json::UInt64(c.queue_full.load());
      f["timeouts"] = Json::UInt64(c.timeouts.load());
      f["badResponses"] = Json::UInt64(c.bad_responses.load());
      f["tunnelFailures"] = Json::UInt64(c.tunnel_failures.load());
      f["retried"] = Json::UInt64(c.retried.load());
      f["acceptErrors"] = Json::UInt64(c.accept_errors.load());
      f["keysDropped"] = Json::UInt64(front->key_metrics().dropped());
      s["front"] = f;
    }
    return s;
  }

  // Keys whose node left long ago are forgotten now and then.
  void tick() {
    timer.expires_after(std::chrono::minutes(1));
    timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec || self->stopped) return;
      self->registry.expire(std::chrono::steady_clock::now());
      self->tick();
    });
  }

  net::io_context& io;
  Logger& log;
  Settings settings;
  Registry registry;
  std::unique_ptr<Front> front;
  std::set<std::shared_ptr<H2Link>> links;
  std::set<std::shared_ptr<WstunnelLink>> wstunnel_links;
  net::steady_timer timer;
  std::uint64_t upgrades_refused = 0;
  bool stopped = false;
};

HttpTunnelPlugin::HttpTunnelPlugin(PluginContext& context) : context_(context) {}

HttpTunnelPlugin::~HttpTunnelPlugin() { stop(); }

void HttpTunnelPlugin::start() {
  std::string why;
  auto s = read_settings(context_.config(), &why);
  if (!s) throw std::runtime_error(why);
  settings_ = std::move(*s);
  started_ = true;
  // A node with no gateways named looks again after each scan.
  find_timer_ = std::make_unique<net::steady_timer>(context_.executor());
  scans_ = context_.events().subscribe(
      "scan.finished", [this, alive = alive_](const std::string&, const Json::Value&) {
        if (*alive) find_gateways();
      });
  const bool node = !settings_.token.empty() || !settings_.id.empty();
  if (!settings_.listen.empty() || node)
    data_ = std::make_unique<tunnels::DataThread>(context_.log(), "httptunnel");
  if (node) restart_node();
  if (!settings_.listen.empty()) {
    // An operator lets a token or id go that a lost secret holds.
    context_.register_method(
        "forgetKey", Access::admin,
        [this](const Json::Value& params, const CallInfo&, Responder reply) {
          forget_key(params, std::move(reply));
        });
    // The path is there from the start; until the registry is loaded, a
    // node is asked to come back (503).
    context_.register_upgrade(std::string(link::kPath),
                              [this](HttpUpgrade request) { on_upgrade(std::move(request)); });
    // Which secret holds which key outlives restarts: load it first.
    context_.store().list(std::string(kClaimPrefix),
                          [this](std::vector<KeyValueStore::Row> rows) {
                            if (!started_) return;
                            std::map<std::string, std::string> claims;
                            for (auto& [k, v] : rows) claims[k.substr(kClaimPrefix.size())] = v;
                            start_gateway(std::move(claims));
                          });
  }
}

void HttpTunnelPlugin::load_secret(std::function<void(std::string, std::string)> done) {
  if (!settings_.secret_file.empty()) {
    std::ifstream in(settings_.secret_file);
    std::string text(4096, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
      text.pop_back();
    if (!in.eof() && !in.good())
      return done("httptunnel.secretFile " + settings_.secret_file + " cannot be read", "");
    if (!link::valid_secret(text))
      return done("httptunnel.secretFile " + settings_.secret_file + " must hold 16 to 128 " +
                      "printable characters without spaces",
                  "");
    return done("", text);
  }
  context_.store().get("secret", [this, done](std::optional<std::string> kept) {
    if (kept && link::valid_secret(*kept)) return done("", *kept);
    // First start: 32 random bytes, as hex.
    std::string secret;
    try {
      secret = random_hex(32);
    } catch (const std::exception& e) {
      return done(std::string("httptunnel: no random bytes for the node's secret: ") + e.what(),
                  "");
    }
    context_.store().put("secret", secret);
    done("", secret);
  });
}

void HttpTunnelPlugin::start_node(const std::string& secret) {
  node_secret_ = secret;
  if (!settings_.health_check.empty()) {
    std::map<std::string, HealthChecks::Target> targets;
    for (const auto& svc : settings_.services)
      targets[svc.name] = {"127.0.0.1", svc.port, "127.0.0.1:" + std::to_string(svc.port), ""};
    std::string why;
    if (!settings_.token.empty())
      if (auto t = wstunnel::parse_base(settings_.server, &why))
        targets[std::string(link::kTokenAuthority)] = {t->host, t->port, t->authority, t->prefix};
    health_ = std::make_shared<HealthChecks>(
        data_->io(), HealthChecks::Options{settings_.health_check}, std::move(targets));
    data_->post([health = health_] { health->start(); });
  }
  if (!settings_.gateways.empty()) {
    link_to(settings_.gateways);
    context_.log().info("httptunnel: exposing ", settings_.token.empty() ? "" : "a token ",
                        settings_.id.empty() ? "" : "id " + settings_.id + " ", "through ",
                        settings_.gateways.size(), " gateway(s)");
    return;
  }
  context_.log().info("httptunnel: exposing ", settings_.token.empty() ? "" : "a token ",
                      settings_.id.empty() ? "" : "id " + settings_.id + " ",
                      "through the gateways that announce HTTP tunnels");
  find_gateways();
}

void HttpTunnelPlugin::link_to(const std::vector<Endpoint>& gateways) {
  const auto same = [](const Endpoint& a, const Endpoint& b) {
    return a.host == b.host && a.port == b.port;
  };
  const auto listed = [&](const Endpoint& e) {
    return std::any_of(gateways.begin(), gateways.end(), [&](const auto& g) { return same(g, e); });
  };
  std::vector<std::shared_ptr<NodeLink>> keep, drop, add;
  std::vector<Endpoint> kept_at;
  for (std::size_t i = 0; i < node_links_.size(); ++i) {
    if (listed(node_link_gateways_[i])) {
      keep.push_back(node_links_[i]);
      kept_at.push_back(node_link_gateways_[i]);
    } else {
      drop.push_back(node_links_[i]);
    }
  }
  for (const auto& gw : gateways) {
    if (std::any_of(kept_at.begin(), kept_at.end(), [&](const auto& k) { return same(k, gw); }))
      continue;
    // A gateway found from offers (which anyone may publish) sees a secret
    // of its own, derived from the node's and the address dialled, which
    // is worth nothing at another gateway; one the operator named sees the
    // node's secret, so that nodes sharing it may reach it at any address.
    const bool v6 = gw.host.find(':') != std::string::npos;
    const std::string at =
        (v6 ? "[" + gw.host + "]" : gw.host) + ":" + std::to_string(gw.port);
    const std::string secret = settings_.gateways.empty()
                                   ? link::gateway_secret(node_secret_, at)
                                   : node_secret_;
    std::vector<link::Hello> hellos;
    if (!settings_.token.empty()) hellos.push_back({"token:" + settings_.token, secret, {}});
    if (!settings_.id.empty()) {
      link::Hello h{"id:" + settings_.id, secret, {}};
      for (const auto& svc : settings_.services) h.services.push_back(svc.name);
      hellos.push_back(std::move(h));
    }
    for (const auto& hello : hellos) {
      NodeOptions o;
      o.gateway_host = gw.host;
      o.gateway_port = gw.port;
      o.hello = hello;
      for (const auto& svc : settings_.services) o.services[svc.name] = svc.port;
      o.server = settings_.server;
      o.regexp = settings_.regexp;
      o.ping_timeout = settings_.ping_timeout;
      o.health = health_;
      add.push_back(std::make_shared<NodeLink>(data_->io(), context_.log(), o));
      keep.push_back(add.back());
      kept_at.push_back(gw);
    }
  }
  node_links_ = std::move(keep);
  node_link_gateways_ = std::move(kept_at);
  data_->post([drop = std::move(drop), add = std::move(add)] {
    for (auto& l : drop) l->stop();
    for (auto& l : add) l->start();
  });
}

void HttpTunnelPlugin::find_gateways() {
  if (!started_ || !settings_.gateways.empty() || node_secret_.empty()) return;
  context_.gateways([this, alive = alive_, generation = node_generation_](Json::Value list) {
    if (!*alive || !started_ || generation != node_generation_ || !data_) return;
    auto ranked = choose_gateways(list, std::numeric_limits<std::size_t>::max());
    if (ranked.empty()) {
      // None announces tunnels, or the list could not be read: links in
      // use are kept (one to a gateway that is gone fails by itself).
      if (found_.empty())
        node_error_ = "no gateway known to this node announces HTTP tunnels yet "
                      "(httptunnel.gateways is empty: they are found from offers)";
      return;
    }
    // Which gateways' links have been down for two minutes: asked on the
    // data thread, decided back on the strand.
    data_->post([this, alive, generation, ranked = std::move(ranked), links = node_links_,
                 at = node_link_gateways_, ex = context_.executor()]() mutable {
      const auto now = std::chrono::steady_clock::now();
      std::vector<Endpoint> up, failing;
      for (std::size_t i = 0; i < links.size(); ++i) {
        const NodeStatus st = links[i]->status();
        if (st.state == "up") up.push_back(at[i]);
        else if (now - st.since >= std::chrono::minutes(2)) failing.push_back(at[i]);
      }
      // A gateway one of whose links (token, id) is up is not failing.
      std::erase_if(failing, [&](const Endpoint& f) {
        return std::any_of(up.begin(), up.end(), [&](const Endpoint& u) {
          return u.host == f.host && u.port == f.port;
        });
      });
      net::post(ex, [this, alive, generation, ranked = std::move(ranked),
                     failing = std::move(failing)] {
        if (!*alive || !started_ || generation != node_generation_) return;
        auto chosen = keep_or_choose(ranked, found_, failing, settings_.max_gateways);
        node_error_.clear();
        const auto text = [](const std::vector<Endpoint>& v) {
          std::string out;
          for (const auto& e : v)
            out += (out.empty() ? "" : ", ") + e.host + ":" + std::to_string(e.port);
          return out;
        };
        if (text(chosen) != text(found_))
          context_.log().info("httptunnel: gateways found from offers: ", text(chosen));
        found_ = chosen;
        link_to(chosen);
      });
    });
  });
  if (!find_timer_) return;
  find_timer_->expires_after(std::chrono::minutes(1));
  find_timer_->async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!ec && *alive) find_gateways();
  });
}

void HttpTunnelPlugin::start_gateway(std::map<std::string, std::string> claims) {
  auto save = [this, ex = context_.executor(), alive = alive_,
               known = std::make_shared<std::map<std::string, std::string>>(claims)](
                  std::map<std::string, std::string> now) {
    // New bindings are written and forgotten ones erased; a binding is
    // never changed in place. The post may run after the plugin stopped
    // (and is gone): `alive` says.
    net::post(ex, [this, alive, known, now = std::move(now)] {
      if (!*alive) return;
      for (const auto& [k, v] : now)
        if (!known->count(k)) {
          (*known)[k] = v;
          context_.store().put(std::string(kClaimPrefix) + k, v);
        }
      for (auto it = known->begin(); it != known->end();) {
        if (now.count(it->first)) {
          ++it;
          continue;
        }
        context_.store().erase(std::string(kClaimPrefix) + it->first);
        it = known->erase(it);
      }
    });
  };
  gateway_ = std::make_shared<Gateway>(data_->io(), context_.log(), settings_, std::move(claims),
                                       std::move(save));
  auto gw = gateway_;
  auto done = std::make_shared<std::promise<std::string>>();
  auto result = done->get_future();
  data_->post([gw, done] { done->set_value(gw->start()); });
  const std::string errors = result.get();
  if (!errors.empty()) context_.log().error("httptunnel: the front does not listen: ", errors);
  context_.log().info("httptunnel: serving tunnels");
}

void HttpTunnelPlugin::forget_key(const Json::Value& params, Responder reply) {
  const auto text = [&](const char* name) {
    return params.isObject() && params[name].isString() ? params[name].asString() : "";
  };
  std::string key;
  if (!text("id").empty() && is_label(text("id"))) key = "id:" + text("id");
  if (!text("token").empty() && !wstunnel::check_token(text("token")))
    key = "token:" + text("token");
  if (key.empty() || !params.isObject() || params.size() != 1) {
    return reply.error(rpc_error::invalid_params,
                       "httptunnel.forgetKey takes {\"id\": NAME} or {\"token\": TOKEN}");
  }
  if (!gateway_ || !data_)
    return reply.error(rpc_error::unavailable, "httptunnel: the gateway is starting");
  data_->post([gw = gateway_, key, reply] {
    const bool held = gw->registry.forget_claim(key);
    if (!held)
      return reply.error(rpc_error::not_found, "no secret holds " + shown(key));
    gw->log.info("httptunnel: ", shown(key), " forgotten: the next secret to hold it binds it");
    Json::Value r(Json::objectValue);
    r["forgotten"] = shown(key);
    reply.result(r);
  });
}

void HttpTunnelPlugin::on_upgrade(HttpUpgrade request) {
  if (request.fd < 0) return;
  if (!gateway_ || !data_) {
    static constexpr char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 23\r\nRetry-After: 1\r\n"
        "Connection: close\r\n\r\nThe gateway is starting";
    [[maybe_unused]] auto n = ::send(request.fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
    ::close(request.fd);
    return;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const bool v6 = ::getsockname(request.fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
                  ss.ss_family == AF_INET6;
  http::request_header<> head;
  head.method_string(request.method);
  head.target(request.target);
  head.version(11);
  for (const auto& [name, value] : request.headers) head.insert(name, value);
  const int fd = request.fd;
  request.fd = -1;
  data_->post([gw = gateway_, fd, v6, head = std::move(head),
               pending = std::move(request.pending)]() mutable {
    boost::system::error_code ec;
    tcp::socket socket(gw->io);
    socket.assign(v6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) {
      ::close(fd);
      return;
    }
    gw->accept(std::move(socket), std::move(head), std::move(pending));
  });
}

void HttpTunnelPlugin::stop() {
  if (!started_) return;
  started_ = false;
  *alive_ = false;
  if (find_timer_) find_timer_->cancel();
  if (scans_) context_.events().unsubscribe(scans_);
  scans_ = 0;
  if (data_) {
    if (auto gw = std::move(gateway_)) data_->post([gw] { gw->stop(); });
    data_->post([links = std::move(node_links_)] {
      for (auto& l : links) l->stop();
    });
    node_links_.clear();
    if (auto health = std::move(health_)) data_->post([health] { health->stop(); });
    data_.reset();  // runs what was posted, then joins
  }
}

void HttpTunnelPlugin::restart_node() {
  if (data_) {
    data_->post([links = std::move(node_links_)] {
      for (auto& l : links) l->stop();
    });
  }
  node_links_.clear();
  node_link_gateways_.clear();
  if (auto health = std::move(health_); health && data_) data_->post([health] { health->stop(); });
  node_secret_.clear();
  found_.clear();
  node_error_.clear();
  ++node_generation_;
  if (settings_.token.empty() && settings_.id.empty()) return;
  if (!data_) data_ = std::make_unique<tunnels::DataThread>(context_.log(), "httptunnel");
  load_secret([this, generation = node_generation_](std::string error, std::string secret) {
    // A newer change (or stop) came meanwhile: that one starts what it wants.
    if (!started_ || generation != node_generation_) return;
    if (!error.empty()) {
      node_error_ = error;
      context_.log().error(error);
      return;
    }
    start_node(secret);
  });
}

void HttpTunnelPlugin::config_changed() {
  std::string why;
  auto s = read_settings(context_.config(), &why);
  if (!s) {
    context_.log().error(why, "; keeping the previous settings");
    node_error_ = why + " (the previous settings are kept)";
    return;
  }
  // The node's keys: its links are made again when any of them changed.
  const auto names = [](const std::vector<Service>& v) {
    std::vector<std::pair<std::string, std::uint16_t>> out;
    for (const auto& x : v) out.emplace_back(x.name, x.port);
    return out;
  };
  const auto endpoints = [](const std::vector<Endpoint>& v) {
    std::vector<std::pair<std::string, std::uint16_t>> out;
    for (const auto& x : v) out.emplace_back(x.host, x.port);
    return out;
  };
  const bool node_changed =
      endpoints(s->gateways) != endpoints(settings_.gateways) || s->token != settings_.token ||
      s->server != settings_.server || s->regexp_text != settings_.regexp_text ||
      s->id != settings_.id || names(s->services) != names(settings_.services) ||
      s->ping_timeout != settings_.ping_timeout || s->max_gateways != settings_.max_gateways ||
      s->health_check != settings_.health_check;
  settings_.timeout = s->timeout;
  settings_.ping_timeout = s->ping_timeout;
  settings_.queue = s->queue;
  settings_.policy = s->policy;
  settings_.wstunnel_clients = s->wstunnel_clients;
  if (node_changed) {
    settings_.gateways = s->gateways;
    settings_.max_gateways = s->max_gateways;
    settings_.health_check = s->health_check;
    settings_.token = s->token;
    settings_.server = s->server;
    settings_.regexp_text = s->regexp_text;
    settings_.regexp = s->regexp;
    settings_.id = s->id;
    settings_.services = s->services;
    restart_node();
  } else if (node_error_.find("previous settings") != std::string::npos) {
    node_error_.clear();
  }
  if (auto gw = gateway_)
    data_->post([gw, s = *s] {
      gw->settings.timeout = s.timeout;
      gw->settings.ping_timeout = s.ping_timeout;
      gw->registry.set_queue(s.queue);
      gw->registry.set_policy(s.policy);
      gw->registry.set_wstunnel_clients(s.wstunnel_clients);
      if (gw->front) {
        FrontOptions o;
        o.domain = gw->settings.domain;
        o.timeout = s.timeout;
        gw->front->set_options(o);
      }
    });
}

Json::Value HttpTunnelPlugin::gateway_status() const {
  if (!gateway_ || !data_) return Json::Value(Json::nullValue);
  auto done = std::make_shared<std::promise<Json::Value>>();
  auto result = done->get_future();
  data_->post([gw = gateway_, done] { done->set_value(gw->status()); });
  // The data thread answers at once unless it is stuck; then say so.
  if (result.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    Json::Value busy(Json::objectValue);
    busy["error"] = "the data thread did not answer within 2 s";
    return busy;
  }
  return result.get();
}

Json::Value HttpTunnelPlugin::node_status() const {
  Json::Value n(Json::objectValue);
  if (!node_error_.empty()) n["error"] = node_error_;
  if (settings_.gateways.empty()) {
    // Found from offers: which ones.
    Json::Value found(Json::arrayValue);
    for (const auto& e : found_) found.append(e.host + ":" + std::to_string(e.port));
    n["found"] = found;
  }
  if ((node_links_.empty() && !health_) || !data_) return n;
  auto done = std::make_shared<std::promise<std::vector<NodeStatus>>>();
  auto result = done->get_future();
  auto health = std::make_shared<Json::Value>();
  data_->post([links = node_links_, checks = health_, health, done] {
    std::vector<NodeStatus> out;
    for (const auto& l : links) out.push_back(l->status());
    if (checks) *health = checks->status();
    done->set_value(std::move(out));
  });
  if (result.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    n["error"] = "the data thread did not answer within 2 s";
    return n;
  }
  const auto now = std::chrono::steady_clock::now();
  Json::Value links(Json::arrayValue);
  std::size_t up = 0;
  for (const NodeStatus& st : result.get()) {
    Json::Value l(Json::objectValue);
    l["gateway"] = st.gateway;
    l["state"] = st.state;
    l["seconds"] = Json::Int64(
        std::chrono::duration_cast<std::chrono::seconds>(now - st.since).count());
    l["reconnects"] = Json::UInt64(st.reconnects);
    l["streamsOpen"] = Json::UInt64(st.streams_open);
    l["streamsServed"] = Json::UInt64(st.streams_served);
    l["bytesToServices"] = Json::UInt64(st.bytes_to_services);
    l["serviceConnections"] = Json::UInt64(st.service_connections);
    l["serviceConnectionsReused"] = Json::UInt64(st.service_reuses);
    l["bytesFromServices"] = Json::UInt64(st.bytes_from_services);
    if (!st.last_error.empty()) l["lastError"] = st.last_error;
    if (st.state == "up") ++up;
    links.append(l);
  }
  n["links"] = links;
  if (!health->isNull()) n["health"] = *health;
  if (up == 0 && !n.isMember("error")) n["error"] = "no link to a gateway is up";
  return n;
}

std::string HttpTunnelPlugin::announce() const {
  if (!started_ || settings_.listen.empty()) return "";
  // The domain named services live under, else the front's first address;
  // a front on every address (0.0.0.0, ::) is ":<port>", the port on any
  // of the gateway's addresses.
  const Endpoint& front = settings_.listen.front();
  const std::string port = ":" + std::to_string(front.port);
  if (!settings_.domain.empty()) return "http://" + settings_.domain + port + "/";
  if (front.host == "0.0.0.0" || front.host == "::") return port;
  const bool v6 = front.host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + front.host + "]" : front.host) + port + "/";
}

Json::Value HttpTunnelPlugin::status() const {
  Json::Value s(Json::objectValue);
  s["serving"] = !settings_.listen.empty();
  if (!settings_.token.empty() || !settings_.id.empty()) {
    Json::Value n = node_status();
    s["node"] = n;
    if (n.isMember("error")) s["error"] = "node: " + n["error"].asString();
  }
  if (!settings_.listen.empty()) {
    Json::Value g = gateway_status();
    if (g.isObject()) {
      s["gateway"] = g;
      if (g["listening"].isArray() && g["listening"].size() < settings_.listen.size())
        s["error"] = "the front does not listen on every httptunnel.listen address";
    }
  }
  return s;
}

void HttpTunnelPlugin::open_session(const TunnelSession&,
                                    std::function<void(std::string, Json::Value)> done) {
  done("httptunnel carries HTTP requests, not sessions", Json::Value(Json::objectValue));
}

void HttpTunnelPlugin::connect(const TunnelSession&, Done done) {
  done("httptunnel carries HTTP requests, not sessions");
}

}  // namespace mnigs::httptunnel
