// The gateway side of the websocket plugin: sessions' addresses and tokens,
// the shared tun device and its NAT, and the HTTP upgrades that attach a
// subscriber's WebSocket to its session.
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <functional>

#include "admission.hpp"
#include "util/net.hpp"
#include "handshake.hpp"
#include "tls_front.hpp"
#include "tunnel.hpp"

namespace mnigs::websocket {

namespace net = boost::asio;
using netcmd::Family;

namespace {

// The store row of the wss identity: the key's and the certificate's PEM.
constexpr const char* kTlsIdentityKey = "tls.identity";

std::string random_token() {
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed while making a tunnel token");
    }
    got += static_cast<std::size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

// Writes an HTTP answer on a socket that is not the event loop's yet: it is
// small, so one send normally takes it; a peer that does not read gets a
// second's grace.
bool send_all(int fd, const std::string& text) {
  std::size_t sent = 0;
  for (int round = 0; round < 100 && sent < text.size(); ++round) {
    ssize_t n = ::send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 10);
      continue;
    }
    return false;
  }
  return sent == text.size();
}

// The same through TLS, for an upgrade that came to the wss port.
bool send_all(int fd, tls::Session* tls, const std::string& text) {
  return tls ? websocket::send_all(*tls, fd, text) : send_all(fd, text);
}

void refuse(int fd, tls::Session* tls, int status, const std::string& message) {
  send_all(fd, tls, response_error(status, message));
  ::close(fd);
}

std::string unmapped(const std::string& text) {
  boost::system::error_code ec;
  auto a = net::ip::make_address(text, ec);
  if (ec) return text;
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()).to_string();
  return a.to_string();
}

std::string bearer(const Headers& headers) {
  const std::string* auth = find_header(headers, "Authorization");
  if (!auth || auth->size() < 7) return "";
  std::string scheme = auth->substr(0, 7);
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return scheme == "bearer " ? auth->substr(7) : "";
}

// An upgraded connection moves to the data plane: `use` gets it there as a
// socket of the plane's io_context (the descriptor is closed and `failed`
// runs there if that fails).
void adopt_socket(DataPlane& plane, int fd, bool v6, std::function<void(net::ip::tcp::socket)> use,
                  std::function<void()> failed = {}) {
  auto& io = plane.io();
  plane.post([&io, fd, v6, use = std::move(use), failed = std::move(failed)] {
    boost::system::error_code ec;
    net::ip::tcp::socket socket(io);
    socket.assign(v6 ? net::ip::tcp::v6() : net::ip::tcp::v4(), fd, ec);
    if (ec) {
      ::close(fd);
      if (failed) failed();
      return;
    }
    use(std::move(socket));
  });
}

}  // namespace

std::string WebsocketTunnel::nft_script() const {
  const std::string dev = settings_.gateway_interface;
  const std::string out = settings_.uplink.empty() ? "oifname != \"" + dev + "\""
                                                   : "oifname \"" + settings_.uplink + "\"";
  std::string s;
  // Written whole: add (so delete cannot fail), delete, define.
  s += std::string("add table inet ") + kNftTable + "\n";
  s += std::string("delete table inet ") + kNftTable + "\n";
  s += std::string("table inet ") + kNftTable + " {\n";
  s += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
  // The data plane already drops packets whose source is not the session's;
  // this keeps anything else that appears on the device from being forwarded.
  if (!settings_.pool4.empty())
    s += "    iifname \"" + dev + "\" meta nfproto ipv4 ip saddr != " + settings_.pool4 + " drop\n";
  if (!settings_.pool6.empty())
    s +=
        "    iifname \"" + dev + "\" meta nfproto ipv6 ip6 saddr != " + settings_.pool6 + " drop\n";
  s += "  }\n";
  s += "  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n";
  if (!settings_.pool4.empty())
    s += "    ip saddr " + settings_.pool4 + " " + out + " masquerade\n";
  if (!settings_.pool6.empty())
    s += "    ip6 saddr " + settings_.pool6 + " " + out + " masquerade\n";
  if (!settings_.l2_address.empty()) {
    const bool v6 = settings_.l2_address.find(':') != std::string::npos;
    s += std::string("    ") + (v6 ? "ip6" : "ip") + " saddr " + settings_.l2_address +
         " oifname != \"" + settings_.l2_interface + "\" " +
         (settings_.uplink.empty() ? "" : out + " ") + "masquerade\n";
  }
  s += "  }\n}\n";
  return s;
}

std::vector<Command> WebsocketTunnel::gateway_setup_commands() const {
  const std::string dev = settings_.gateway_interface;
  std::vector<Command> c;
  c.push_back(cmd({"ip", "link", "set", "dev", dev, "mtu", std::to_string(settings_.mtu), "up"}));
  if (pool_->has4())
    c.push_back(
        cmd({"ip", "-4", "addr", "replace",
             pool_->gateway4() + "/" + std::to_string(pool_->prefix_length4()), "dev", dev}));
  if (pool_->has6())
    c.push_back(cmd({"ip", "-6", "addr", "replace",
                     pool_->gateway6() + "/" + std::to_string(pool_->prefix_length6()), "dev", dev,
                     "nodad"}));
  c.push_back(cmd({"nft", "-f", "-"}, nft_script()));
  return c;
}

std::vector<Command> WebsocketTunnel::gateway_removal_commands(
    const std::vector<std::string>& sysctls) const {
  std::vector<Command> c;
  c.push_back(cmd({"nft", "delete", "table", "inet", kNftTable}, "", true));
  for (const auto& knob : sysctls) c.push_back(write_knob(knob, false));
  return c;
}

void WebsocketTunnel::enable_forwarding(const std::string& knob,
                                        std::function<void(std::string)> done) {
  turn_on_knob(queue_, knob, [this, knob, done](std::string error, bool turned_on) {
    if (turned_on) sysctls_on_.push_back(knob);
    done(error);
  });
}

void WebsocketTunnel::bring_up_gateway(std::function<void(std::string)> done) {
  if (gateway_up_) return done("");
  std::shared_ptr<L3Gateway> l3;
  try {
    TunDevice device(settings_.gateway_interface, TunDevice::Kind::tun, settings_.offload);
    Link::Options options;
    options.role = Link::Role::server;
    options.max_queue = settings_.max_queue;
    options.liveness.ping_after = settings_.keepalive;
    options.liveness.dead_after = settings_.timeout;
    // A browser (the tether page) sends a packet over 64 KiB (a large
    // segment and its header) in several frames.
    options.reassemble = true;
    l3 = std::make_shared<L3Gateway>(plane_->io(), std::move(device), options, context_.log());
  } catch (const std::exception& e) {
    return done(e.what());
  }
  run_steps(gateway_setup_commands(), [this, l3, done](std::string error) {
    if (!error.empty()) return done(error);
    std::vector<std::string> knobs;
    if (pool_->has4()) knobs.push_back("net.ipv4.ip_forward");
    if (pool_->has6()) knobs.push_back("net.ipv6.conf.all.forwarding");
    enable_all_forwarding(std::move(knobs), [this, l3, done](std::string error) {
      if (!error.empty()) return done(error);
      l3_ = l3;
      plane_->post([l3] { l3->start(); });
      gateway_up_ = true;
      context_.log().info("gateway tunnel device ", settings_.gateway_interface, " is up");
      done("");
    });
  });
}

void WebsocketTunnel::enable_all_forwarding(std::vector<std::string> knobs,
                                            std::function<void(std::string)> done) {
  if (knobs.empty()) return done("");
  std::string first = knobs.front();
  knobs.erase(knobs.begin());
  enable_forwarding(first, [this, rest = std::move(knobs), done](std::string error) mutable {
    if (!error.empty()) return done(error);
    enable_all_forwarding(std::move(rest), std::move(done));
  });
}

void WebsocketTunnel::open_session(const TunnelSession& session,
                                   std::function<void(std::string, Json::Value)> done) {
  if (!started_) return done("the websocket plugin is not running", Json::Value());
  queue_.enqueue(
      [this, session, done](CommandQueue::Finished finished) {
        auto fail = [done, finished](const std::string& error) {
          done(error, Json::Value());
          finished();
        };
        GatewaySession g;
        g.session = session;
        const Json::Value& p = session.params;
        std::string why;
        auto addresses = pool_->allot(p, &why);
        if (!addresses) return fail("session " + session.id + ": " + why);
        g.address4 = addresses->address4;
        g.address6 = addresses->address6;
        // Resumed after a restart: the same token too.
        if (p.isMember("token")) {
          g.token = p["token"].asString();
        } else {
          try {
            g.token = random_token();
          } catch (const std::exception& e) {
            pool_->release(*addresses);
            return fail(e.what());
          }
        }
        bring_up_gateway([this, g, done, finished](std::string error) {
          if (!error.empty()) {
            pool_->release({g.address4, g.address6});
            done("cannot set up the tunnel: " + error, Json::Value());
            return finished();
          }
          Json::Value params(Json::objectValue);
          params["path"] = settings_.path;
          params["token"] = g.token;
          // Where wss is; a subscriber uses it when it knows our key.
          if (!tls_pin_.empty()) params["tlsPort"] = settings_.tls_port;
          params["mtu"] = settings_.mtu;
          pool_->describe({g.address4, g.address6}, params);
          sessions_[g.session.id] = g;
          context_.log().info("session ", g.session.id, " of ", g.session.subscriber_address,
                              ": tunnel addresses ", g.address4, " ", g.address6);
          done("", params);
          finished();
        });
      },
      [done](const std::string& reason) { done(reason, Json::Value()); });
}

void WebsocketTunnel::close_session(const TunnelSession& session, Done done) {
  auto it = sessions_.find(session.id);
  if (it == sessions_.end()) return done("");
  pool_->release({it->second.address4, it->second.address6});
  sessions_.erase(it);
  if (l3_) {
    auto l3 = l3_;
    auto id = session.id;
    plane_->post([l3, id] { l3->detach(id, "the session ended"); });
  }
  // Switch peers that joined with the session's token or from its address
  // go with it.
  if (switch_) {
    auto sw = switch_;
    auto id = session.id;
    plane_->post([sw, id] { sw->drop_session(id); });
  }
  done("");
}

void WebsocketTunnel::on_l3_upgrade(HttpUpgrade request, std::shared_ptr<tls::Session> tls) {
  const int fd = request.fd;
  auto refused = [&](int status, const std::string& why) {
    ++upgrades_refused_;
    log_refusal("a tunnel", request.remote_address, why);
    refuse(fd, tls.get(), status, why);
  };
  if (!started_) return refused(503, "the websocket plugin is stopping");
  ServerUpgrade up = check_upgrade(request.method, request.headers, {kPageProtocol});
  if (!up.ok) return refused(up.status, up.error);
  // Headers from mnigs and vpn-ws clients; subprotocols from a page in a
  // browser, which cannot set headers (admission.hpp).
  auto page = page_credentials(request.headers);
  if (!page.error.empty()) return refused(400, page.error);
  std::string id, token;
  if (page.credentials) {
    // A browser's page: only one served from an address the daemon lets
    // pages call from (never a site named by DNS: any site on the Internet
    // could otherwise get its visitors' browsers a tunnel here).
    if (const std::string* origin = find_header(request.headers, "Origin")) {
      std::vector<Prefix> allowed;
      const Json::Value daemon = context_.core_config("daemon");
      for (const auto& p : daemon["rpcCorsOrigins"])
        if (auto prefix = parse_prefix(p.asString())) allowed.push_back(*prefix);
      if (!origin_allowed(*origin, allowed))
        return refused(403, "a page may open the tunnel only when served from an address of "
                            "daemon.rpcCorsOrigins");
    }
    id = std::move(page.credentials->session);
    token = std::move(page.credentials->token);
  } else {
    if (auto why = browser_refusal(request.headers); !why.empty()) return refused(403, why);
    const std::string* header = find_header(request.headers, "X-Mnigs-Session");
    if (!header) return refused(401, "no X-Mnigs-Session header: request a connection first");
    id = *header;
    token = bearer(request.headers);
    up.protocol.clear();  // chosen only with a page's credentials
  }
  auto it = sessions_.find(id);
  if (it == sessions_.end() || !constant_time_equal(token, it->second.token))
    return refused(403, "unknown session or wrong token");
  GatewaySession& g = it->second;
  if (unmapped(request.remote_address) != unmapped(g.session.subscriber_address))
    return refused(403, "session " + g.session.id + " belongs to another address");
  if (g.tls && !tls)
    return refused(403, "session " + g.session.id + " uses wss: no plain ws link is taken for it");
  if (!l3_) return refused(503, "the tunnel device is not up");
  if (tls) g.tls = true;
  if (!send_all(fd, tls.get(), response_101(up))) {
    ::close(fd);
    return;
  }
  auto l3 = l3_;
  const bool v6 = request.local_address.find(':') != std::string::npos;
  auto pending = std::make_shared<std::string>(std::move(request.pending));
  adopt_socket(*plane_, fd, v6,
               [l3, pending, tls, id = g.session.id, a4 = g.address4,
                a6 = g.address6](net::ip::tcp::socket socket) {
                 l3->attach(id, std::move(socket), tls, std::move(*pending), a4, a6);
               });
  context_.log().info("session ", g.session.id, ": tunnel connected from ", request.remote_address,
                      tls ? " over " + tls->description() : std::string());
}

void WebsocketTunnel::log_refusal(const char* what, const std::string& from,
                                  const std::string& why) {
  std::uint64_t held = 0;
  if (!refusal_log_.allow(std::chrono::steady_clock::now(), &held)) return;
  context_.log().info("refused ", what, " from ", from, ": ", why,
                      held ? " (" + std::to_string(held) + " more refusals not logged)"
                           : std::string());
}

// ---------------------------------------------------------------- wss port

void WebsocketTunnel::start_tls() {
  // One identity for good: subscribers pin its key, and the DHT offer
  // carries the pin. A store row that does not load is replaced. What an
  // earlier start left on its way is told apart by the generation.
  const std::uint64_t generation = ++tls_generation_;
  context_.store().get(kTlsIdentityKey, [this, generation](std::optional<std::string> text) {
    if (!started_ || generation != tls_generation_) return;
    tls::Identity id;
    if (text) {
      // One PEM text holds both; each reader takes the block of its kind.
      id.key_pem = id.cert_pem = *text;
      const std::string why = listen_tls(id);
      if (why.empty()) return;
      context_.log().warn("the stored TLS identity does not load (", why,
                          "); making a new one: subscribers that pinned the old key will "
                          "learn the new one from the next offer");
    }
    auto fail = [this](const std::string& why) {
      tls_error_ = why;
      context_.log().error("wss: ", tls_error_);
    };
    try {
      id = tls::make_identity("mnigs gateway");
    } catch (const std::exception& e) {
      return fail(e.what());
    }
    context_.store().put(kTlsIdentityKey, id.key_pem + id.cert_pem,
                         [this, id, generation, fail](bool ok) {
                           if (!started_ || generation != tls_generation_) return;
                           // Not kept: the key would change with every start, and
                           // subscribers' pins would break; better not to serve wss.
                           if (!ok) return fail("the new TLS identity could not be stored");
                           if (auto why = listen_tls(id); !why.empty()) fail(why);
                         });
  });
}

std::string WebsocketTunnel::listen_tls(const tls::Identity& identity) {
  std::shared_ptr<tls::Context> ctx;
  std::string pin;
  try {
    ctx = tls::Context::server(identity);
    pin = tls::pin_of(identity.cert_pem);
  } catch (const std::exception& e) {
    return e.what();
  }
  // Held from here on, so that stop_data_plane stops it whatever happens
  // next; published (tls_pin_) only once it listens.
  auto front = std::make_shared<TlsFront>(plane_->io(), std::move(ctx), context_.log());
  tls_front_ = front;
  auto ex = context_.executor();
  const auto port = static_cast<std::uint16_t>(settings_.tls_port);
  // The acceptor belongs to the data plane; requests come back here.
  plane_->post([this, front, ex, port, pin] {
    std::string error;
    try {
      front->start(port, [this, ex](HttpUpgrade request, std::shared_ptr<tls::Session> tls) {
        boost::asio::post(ex, [this, request = std::move(request), tls]() mutable {
          on_tls_request(std::move(request), std::move(tls));
        });
      });
    } catch (const std::exception& e) {
      error = e.what();
    }
    boost::asio::post(ex, [this, front, port, pin, error] {
      if (!started_ || tls_front_ != front) return;
      if (!error.empty()) {
        tls_front_.reset();
        plane_->post([front] {});  // its last reference goes on its own thread
        tls_error_ = "cannot listen on port " + std::to_string(port) + ": " + error;
        return context_.log().error("wss: ", tls_error_);
      }
      tls_pin_ = pin;
      tls_error_.clear();
      context_.log().info("wss on port ", port, ", key ", pin);
    });
  });
  return "";
}

void WebsocketTunnel::on_tls_request(HttpUpgrade request, std::shared_ptr<tls::Session> tls) {
  if (!started_) {
    ::close(request.fd);
    return;
  }
  // Paths as the RPC port routes them: exactly, the query aside.
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (path == settings_.path) return on_l3_upgrade(std::move(request), std::move(tls));
  if (settings_.l2 && path == settings_.l2_path)
    return on_l2_upgrade(std::move(request), std::move(tls));
  ++upgrades_refused_;
  log_refusal("a request", request.remote_address, "nothing is served on " + path + " over TLS");
  refuse(request.fd, tls.get(), 404, "nothing is served on " + path + " over TLS");
}

}  // namespace mnigs::websocket

namespace mnigs::websocket {

void WebsocketTunnel::start_switch() {
  Switch::Options options;
  options.flood_broadcast = settings_.l2_flood_broadcast;
  options.flood_multicast = settings_.l2_flood_multicast;
  Link::Options link;
  link.max_queue = settings_.max_queue;
  // No pings to switch peers: a vpn-ws client never answers them, and each
  // one would reset the 17 s wait after which it pings by itself. A peer is
  // alive while it is heard or its TCP acknowledges what the switch sends
  // (liveness.hpp).
  link.liveness.ping_after = std::chrono::milliseconds(0);
  link.liveness.dead_after = settings_.l2_timeout;
  link.liveness.acks_count = true;
  // A slow reader is given up after l2Timeout too (link.hpp), as the
  // TCP user timeout would once its receive window stayed shut that long.
  switch_ =
      std::make_shared<L2Switch>(plane_->io(), options, link, settings_.max_peers, context_.log());
  l2_port_mac_.reset();
  if (settings_.l2_address.empty()) {
    auto sw = switch_;
    plane_->post([sw] { sw->start(std::nullopt); });
    return;
  }
  // The gateway's own port: a tap device with l2Address, masqueraded.
  std::optional<TunDevice> tap;
  try {
    tap.emplace(settings_.l2_interface, TunDevice::Kind::tap, false);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("websocket.l2Address is set but ") + e.what());
  }
  // The port's MAC is reserved on the switch: no peer may claim it.
  l2_port_mac_ = interface_mac(settings_.l2_interface);
  auto sw = switch_;
  auto device = std::make_shared<std::optional<TunDevice>>(std::move(tap));
  plane_->post([sw, device, mac = l2_port_mac_] { sw->start(std::move(*device), mac); });
  const bool v6 = settings_.l2_address.find(':') != std::string::npos;
  std::vector<Command> steps{cmd({"ip", "link", "set", "dev", settings_.l2_interface, "up"}),
                             cmd({"ip", v6 ? "-6" : "-4", "addr", "replace", settings_.l2_address,
                                  "dev", settings_.l2_interface}),
                             cmd({"nft", "-f", "-"}, nft_script())};
  queue_.enqueue(
      [this, steps, v6](CommandQueue::Finished finished) {
        gateway_up_ = true;  // the nft table exists from here on: reset and stop remove it
        run_steps(steps, [this, v6, finished](std::string error) {
          if (!error.empty()) {
            context_.log().error("the switch's own port ", settings_.l2_interface,
                                 " is not set up: ", error);
            return finished();
          }
          enable_forwarding(v6 ? "net.ipv6.conf.all.forwarding" : "net.ipv4.ip_forward",
                            [this, finished](std::string e) {
                              if (!e.empty())
                                context_.log().error(e);
                              else
                                context_.log().info("switch port ", settings_.l2_interface, " ",
                                                    settings_.l2_address, " is up");
                              finished();
                            });
        });
      },
      {});
}

std::string WebsocketTunnel::l2_refusal(const HttpUpgrade& request, std::string* session) const {
  if (settings_.l2_auth == "none") return "";
  const std::string remote = unmapped(request.remote_address);
  if (settings_.l2_auth == "proxy") {
    boost::system::error_code ec;
    auto a = net::ip::make_address(remote, ec);
    return !ec && a.is_loopback()
               ? ""
               : "websocket.l2Auth is proxy: only a proxy on this host may connect";
  }
  std::vector<SessionKey> keys;
  keys.reserve(sessions_.size());
  for (const auto& [id, g] : sessions_)
    keys.push_back({id, g.token, unmapped(g.session.subscriber_address)});
  const std::string token = bearer(request.headers);
  auto joined = l2_session(keys, find_header(request.headers, "X-Mnigs-Session"), token, remote);
  if (!joined)
    return token.empty() ? "no session: request a connection with the websocket suite first"
                         : "the token is not that of a current session (or not of the session "
                           "named by X-Mnigs-Session)";
  *session = *joined;
  return "";
}

void WebsocketTunnel::on_l2_upgrade(HttpUpgrade request, std::shared_ptr<tls::Session> tls) {
  const int fd = request.fd;
  auto refused = [&](int status, const std::string& why) {
    ++upgrades_refused_;
    log_refusal("a switch peer", request.remote_address, why);
    refuse(fd, tls.get(), status, why);
  };
  if (!started_ || !switch_) return refused(503, "the switch is not running");
  ServerUpgrade up = check_upgrade(request.method, request.headers, {});
  if (!up.ok) return refused(up.status, up.error);
  if (auto why = browser_refusal(request.headers); !why.empty()) return refused(403, why);
  std::string session;
  if (auto why = l2_refusal(request, &session); !why.empty()) return refused(403, why);
  if (auto it = sessions_.find(session); it != sessions_.end()) {
    // As on the L3 endpoint: a session that came over wss takes nothing plain.
    if (it->second.tls && !tls)
      return refused(403, "session " + session + " uses wss: no plain ws peer joins for it");
    if (tls) it->second.tls = true;
  }
  if (up.mac && l2_port_mac_ && *up.mac == *l2_port_mac_)
    return refused(403, "X-vpn-ws-MAC " + to_string(*up.mac) + " is the gateway's own port's");
  if (!switch_->admit())
    return refused(503, "the switch has websocket.maxPeers (" +
                            std::to_string(switch_->max_peers()) + ") peers already");
  if (!send_all(fd, tls.get(), response_101(up))) {
    switch_->release();
    ::close(fd);
    return;
  }
  auto sw = switch_;
  const bool v6 = request.local_address.find(':') != std::string::npos;
  context_.log().info("switch peer from ", request.remote_address,
                      up.mac ? " with MAC " + to_string(*up.mac) : std::string(),
                      up.bridge ? " (bridge)" : "");
  auto pending = std::make_shared<std::string>(std::move(request.pending));
  adopt_socket(
      *plane_, fd, v6,
      [sw, pending, tls, mac = up.mac, bridge = up.bridge, remote = request.remote_address,
       session](net::ip::tcp::socket socket) {
        sw->add(std::move(socket), tls, std::move(*pending), mac, bridge, remote, session);
      },
      [sw] { sw->release(); });
}

}  // namespace mnigs::websocket
