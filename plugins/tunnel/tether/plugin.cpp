#include "plugin.hpp"

#include <ifaddrs.h>
#include <json/reader.h>
#include <json/writer.h>
#include <net/if.h>
#include <netinet/in.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstring>
#include <future>

namespace mnigs::tether {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// The key TunnelRoutes files the default route under: there is one session.
constexpr const char* kRouteKey = "tether";

std::string compact(const Json::Value& v) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  return Json::writeString(w, v);
}

std::string url_host(const net::ip::address& a) {
  return a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
}

}  // namespace

TetherPlugin::TetherPlugin(PluginContext& context)
    : context_(context), queue_(context, std::chrono::seconds(10)) {}

TetherPlugin::~TetherPlugin() { stop(); }

websocket::Link::Options TetherPlugin::link_options() const {
  websocket::Link::Options o;
  o.max_queue = settings_.max_queue;
  o.liveness.ping_after = settings_.keepalive;
  o.liveness.dead_after = settings_.timeout;
  return o;
}

void TetherPlugin::start() {
  std::string why;
  auto s = read_settings(context_.config(), &why);
  if (!s) throw std::runtime_error(why);
  settings_ = std::move(*s);
  data_ = std::make_unique<tunnels::DataThread>(context_.log(), "tether");
  relay_ = std::make_shared<Relay>(data_->io(), link_options(), context_.log());
  routes_ = std::make_unique<tunnels::TunnelRoutes>(queue_, settings_.table, settings_.priority);
  Effects& effects = *this;  // a private base: converted here, inside the class
  controller_ = std::make_unique<Controller>(context_.executor(), effects);
  controller_->set_configured_gateway(settings_.gateway);
  started_ = true;
  context_.register_method("pairing", Access::admin,
                           [this](const Json::Value& params, const CallInfo&, Responder reply) {
                             pairing_method(params, std::move(reply));
                           });
  // A session kept from before a restart is renewed when a page comes.
  context_.store().get("session", [this, alive = alive_](std::optional<std::string> text) {
    if (!*alive) return;
    std::optional<Session> session;
    if (text) {
      Json::Value v;
      Json::CharReaderBuilder b;
      std::unique_ptr<Json::CharReader> r(b.newCharReader());
      if (r->parse(text->data(), text->data() + text->size(), &v, nullptr))
        session = Session::from_json(v);
    }
    context_.store().get("gateway", [this, alive, session](std::optional<std::string> gw) {
      if (!*alive) return;
      std::string why;
      auto remembered = gw ? normalize_gateway(*gw, &why) : std::nullopt;
      controller_->restore(session, remembered.value_or(""));
      loaded_ = true;
      if (settings_.enabled) enable();
    });
  });
}

void TetherPlugin::stop() {
  if (!started_) return;
  started_ = false;
  *alive_ = false;
  // The session stays where it is, kept in the store: a restart renews it
  // when the page comes back. Routes and the device go now.
  queue_.stop(routes_->removal(2));
  if (data_) {
    data_->post([relay = relay_, server = std::move(server_)] {
      if (server) server->stop();
      relay->stop();
    });
    data_.reset();  // runs what was posted, then joins
  }
  controller_.reset();
  serving_ = false;
}

std::string TetherPlugin::enable() {
  if (serving_) return "";
  boost::system::error_code ec;
  const auto address = net::ip::make_address(settings_.listen_host, ec);
  if (ec) return error_ = "tether.listen: " + settings_.listen_host + " is not an address";
  pairing_.renew();
  auto ex = context_.executor();
  auto on_page = [this, ex, alive = alive_, relay = relay_](tcp::socket socket, std::string pending,
                                                            std::string remote) {
    relay->attach_page(
        std::move(socket), std::move(pending),
        [this, ex, alive, remote](std::uint64_t page) {
          net::post(ex, [this, alive, page, remote] {
            if (!*alive) return;
            if (!serving_) {
              // Paired while tethering was being turned off.
              data_->post([relay = relay_] {
                relay->close_page(websocket::close_normal, "tethering is off");
              });
              return;
            }
            page_ = page;
            controller_->page_attached(remote);
          });
        },
        [this, ex, alive](std::uint64_t page, std::string text) {
          net::post(ex, [this, alive, page, text = std::move(text)] {
            if (*alive && page == page_) controller_->page_text(text);
          });
        },
        [this, ex, alive](std::uint64_t page, std::string reason) {
          net::post(ex, [this, alive, page, reason = std::move(reason)] {
            if (!*alive || page != page_) return;
            page_ = 0;
            controller_->page_detached(reason);
          });
        });
  };
  try {
    server_ = std::make_shared<Server>(data_->io(), tcp::endpoint(address, settings_.listen_port),
                                       pairing_, on_page, context_.log());
  } catch (const std::exception& e) {
    error_ = e.what();
    context_.log().error("tether: ", error_);
    return error_;
  }
  data_->post([server = server_] { server->start(); });
  serving_ = true;
  error_.clear();
  context_.log().info("tether: the page is served on http://", server_->name(),
                      "/ (mnigs-cli --tether shows the pairing code)");
  return "";
}

void TetherPlugin::stop_server() {
  auto server = std::move(server_);
  if (!server) return;
  // Closed on the data thread, and waited for: the next server may bind
  // the same port at once. Only a close runs there; a few microseconds.
  auto closed = std::make_shared<std::promise<void>>();
  auto future = closed->get_future();
  data_->post([server, closed] {
    server->stop();
    closed->set_value();
  });
  if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready)
    context_.log().warn("tether: the old server did not close in time");
}

void TetherPlugin::disable(std::function<void()> done) {
  if (!serving_) return done();
  serving_ = false;
  turning_off_ = true;
  // No new page from now on; the one attached helps release the session.
  stop_server();
  controller_->shut_down([this, alive = alive_, done] {
    if (*alive) turning_off_ = false;
    if (*alive)
      data_->post([relay = relay_] {
        relay->close_page(websocket::close_normal, "tethering was turned off");
      });
    done();
  });
}

void TetherPlugin::config_changed() {
  std::string why;
  auto s = read_settings(context_.config(), &why);
  if (!s) {
    context_.log().error(why, "; keeping the previous settings");
    error_ = why + " (the previous settings are kept)";
    return;
  }
  const bool listen_changed =
      s->listen_host != settings_.listen_host || s->listen_port != settings_.listen_port;
  const bool was = settings_.enabled;
  // The device and routing keys apply at the next start.
  s->interface = settings_.interface;
  s->offload = settings_.offload;
  s->table = settings_.table;
  s->priority = settings_.priority;
  settings_ = std::move(*s);
  controller_->set_configured_gateway(settings_.gateway);
  data_->post([relay = relay_, o = link_options()] { relay->set_options(o); });
  if (!loaded_) return;  // enable() follows the stored session's load
  if (was && !settings_.enabled) return disable([] {});
  if (settings_.enabled && serving_ && listen_changed) {
    // Another address: a new server; a page already paired stays.
    stop_server();
    serving_ = false;
  }
  if (settings_.enabled) enable();
}

void TetherPlugin::send_to_page(const std::string& text) {
  data_->post([relay = relay_, page = page_, text] { relay->send_text(page, text); });
}

void TetherPlugin::bring_up(const Session& session, const std::string& via,
                            std::function<void(std::string error)> done) {
  queue_.enqueue(
      [this, session, via, done](netcmd::CommandQueue::Finished finished) {
        auto complete = [done, finished](std::string error) {
          done(std::move(error));
          finished();
        };
        std::shared_ptr<websocket::TunDevice> device;
        try {
          device = std::make_shared<websocket::TunDevice>(settings_.interface,
                                                          websocket::TunDevice::Kind::tun,
                                                          settings_.offload);
        } catch (const std::exception& e) {
          return complete(std::string("cannot create the tun device: ") + e.what());
        }
        data_->post([relay = relay_, device] { relay->attach_tun(std::move(*device)); });
        const Json::Value& t = session.tunnel;
        std::vector<netcmd::Command> steps =
            tunnels::device_setup(settings_.interface, t.get("mtu", 1400).asInt(), t);
        steps.push_back(tunnels::loose_reverse_path(settings_.interface));
        steps.back().best_effort = true;
        queue_.run_steps(std::move(steps), [this, session, via, complete](std::string error) {
          if (!error.empty()) return complete(error);
          const Json::Value subscriber = context_.core_config("subscriber");
          if (subscriber.get("routing", "default").asString() == "none") {
            context_.log().info("tether: ", settings_.interface,
                                " is up; routes left alone (subscriber.routing none)");
            return complete("");
          }
          routes_->take(
              kRouteKey, settings_.interface,
              {session.tunnel.isMember("address4"), session.tunnel.isMember("address6")}, via,
              [this](const std::string& key) {
                return key == kRouteKey ? settings_.interface : std::string();
              },
              [this](const std::string& dev) { return dev == settings_.interface; },
              [this, complete](std::string error) {
                if (error.empty())
                  context_.log().info("tether: ", settings_.interface,
                                      " is up; default route moved into it");
                complete(error);
              });
        });
      },
      [done](const std::string& reason) { done(reason); });
}

void TetherPlugin::tear_down(std::function<void()> done) {
  queue_.enqueue(
      [this, done](netcmd::CommandQueue::Finished finished) {
        std::vector<netcmd::Command> commands = routes_->release(kRouteKey);
        // The device closed first (its addresses go with it), and known to
        // be: the next bring_up creates one of the same name.
        auto closed = queue_.guard<>([this, commands, done, finished]() mutable {
          queue_.run_all(std::move(commands), true, [this, done, finished](std::string error) {
            if (!error.empty()) context_.log().warn("tether: taking the routes down: ", error);
            context_.log().info("tether: ", settings_.interface, " is down");
            done();
            finished();
          });
        });
        data_->post([relay = relay_, ex = context_.executor(), closed] {
          relay->detach_tun();
          net::post(ex, closed);
        });
      },
      [done](const std::string&) { done(); });
}

void TetherPlugin::save_session(const Json::Value& session) {
  if (session.isNull()) return context_.store().erase("session");
  context_.store().put("session", compact(session));
}

void TetherPlugin::save_gateway(const std::string& gateway) {
  context_.store().put("gateway", gateway);
}

std::int64_t TetherPlugin::unix_now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(context_.wall_now().time_since_epoch())
      .count();
}

Json::Value TetherPlugin::urls(const std::string& code) const {
  Json::Value out(Json::arrayValue);
  const std::string port = std::to_string(settings_.listen_port);
  const std::string tail = ":" + port + "/#" + code;
  boost::system::error_code ec;
  const auto listen = net::ip::make_address(settings_.listen_host, ec);
  if (ec) return out;
  if (!listen.is_unspecified()) {
    out.append("http://" + url_host(listen) + tail);
    return out;
  }
  // Every address it is reached at, but loopback and IPv6 link-local ones
  // (a browser cannot name an interface in a URL).
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      net::ip::address_v4::bytes_type b;
      std::memcpy(b.data(), &sin->sin_addr, 4);
      out.append("http://" + net::ip::address_v4(b).to_string() + tail);
    } else if (i->ifa_addr->sa_family == AF_INET6 && listen.is_v6()) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      net::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &sin6->sin6_addr, 16);
      net::ip::address_v6 a(b);
      if (!a.is_link_local()) out.append("http://" + url_host(a) + tail);
    }
  }
  ::freeifaddrs(list);
  return out;
}

void TetherPlugin::pairing_method(const Json::Value& params, Responder reply) {
  if (!params.isNull() && !params.isObject())
    return reply.error(rpc_error::invalid_params, "params must be an object: {\"renew\": bool}");
  if (params.isObject() && params.isMember("renew") && !params["renew"].isBool())
    return reply.error(rpc_error::invalid_params, "renew must be true or false");
  Json::Value r(Json::objectValue);
  r["enabled"] = settings_.enabled;
  r["serving"] = serving_;
  r["error"] = error_;
  if (serving_) {
    if (params.isObject() && params.get("renew", false).asBool()) {
      pairing_.renew();
      context_.log().info("tether: a new pairing code was made");
    }
    const std::string code = pairing_.code();
    r["code"] = code;
    r["urls"] = urls(code);
  }
  const Json::Value c = controller_->status();
  for (const char* key : {"state", "detail", "page", "gatewayLink", "session"})
    if (c.isMember(key)) r[key] = c[key];
  reply.result(r);
}

Json::Value TetherPlugin::status() const {
  Json::Value s = controller_ ? controller_->status() : Json::Value(Json::objectValue);
  // "off" only once the release and tear-down are done.
  if (!settings_.enabled && !turning_off_) s["state"] = "off";
  s["enabled"] = settings_.enabled;
  s["serving"] = serving_;
  s["error"] = error_;
  s["listen"] = server_ ? server_->name() : "";
  s["interface"] = settings_.interface;
  if (relay_) {
    const auto& c = relay_->page_counters();
    s["bytesToPage"] = Json::UInt64(c.tx_bytes);
    s["bytesFromPage"] = Json::UInt64(c.rx_bytes);
    s["packetsToPage"] = Json::UInt64(c.tx_messages);
    s["packetsFromPage"] = Json::UInt64(c.rx_messages);
    s["droppedQueueFull"] = Json::UInt64(c.dropped_queue_full);
    s["dropped"] = Json::UInt64(relay_->dropped());
    s["tunRefused"] = Json::UInt64(relay_->tun_refused());
  }
  if (server_) {
    const auto& c = server_->counters();
    s["pagesPaired"] = Json::UInt64(c.paired);
    s["upgradesRefused"] = Json::UInt64(c.refused);
    s["connectionsRefusedBusy"] = Json::UInt64(c.busy);
  }
  s["pairingCodesRefused"] = Json::UInt64(pairing_.refused());
  s["pairingBusy"] = Json::UInt64(pairing_.busy());
  if (data_) s["dataThreadErrors"] = Json::UInt64(data_->errors());
  return s;
}

}  // namespace mnigs::tether
