// The gateway side of tunnel/openvpn: the servers, the subscribers'
// certificates and addresses, admission, and the nft table that keeps
// sessions to their addresses and masquerades them out of the uplink.
#include <openssl/x509.h>

#include <mnigs/log.hpp>

#include <variant>

#include "masquerade.hpp"
#include "ovpn_config.hpp"
#include "process.hpp"
#include "sysctl_knob.hpp"
#include "tunnel.hpp"

namespace mnigs::openvpn {

namespace {

// Certificates a gateway issues are checked by the session, not by date:
// they outlive any renewal.
constexpr std::chrono::seconds kCertificateLife = std::chrono::hours(24 * 365 * 10);
// How long a restart of a server that died waits (doubled after each failure).
constexpr std::chrono::seconds kServerRestartDelay{2};
// openvpn exits within a second of SIGTERM (explicit-exit-notify 1 waits
// one); after this it is killed.
constexpr std::chrono::milliseconds kExitGrace{3000};

netcmd::Command cmd(std::vector<std::string> argv, std::string input = "", bool removal = false) {
  netcmd::Command c;
  c.argv = std::move(argv);
  c.input = std::move(input);
  c.removal = removal;
  return c;
}

std::string server_name(Protocol p) { return std::string("server-") + to_string(p); }

std::map<std::string, std::string> env_map(const Env& env) {
  std::map<std::string, std::string> m;
  for (const auto& v : env) m.emplace(v.name, v.value);
  return m;
}

}  // namespace

std::string OpenvpnTunnel::nft_script() const {
  const std::string table = "mnigs_openvpn";
  const std::string devices = "\"" + settings_.gateway_interface + "-*\"";
  std::string s;
  // Written whole: add (so delete cannot fail), delete, define.
  s += "add table inet " + table + "\n";
  s += "delete table inet " + table + "\n";
  s += "table inet " + table + " {\n";
  s += "  chain forward {\n    type filter hook forward priority filter; policy accept;\n";
  // openvpn itself drops what a client sends from another address than its
  // own; this keeps anything else out of the pool's range too.
  if (!settings_.pool4.empty())
    s += "    iifname " + devices + " meta nfproto ipv4 ip saddr != " + settings_.pool4 + " drop\n";
  if (!settings_.pool6.empty())
    s += "    iifname " + devices + " meta nfproto ipv6 ip6 saddr != " + settings_.pool6 +
         " drop\n";
  s += "  }\n";
  s += tunnels::masquerade_chain(settings_.pool4, settings_.pool6,
                                 tunnels::uplink_match(settings_.uplink, devices));
  s += "}\n";
  return s;
}

std::vector<netcmd::Command> OpenvpnTunnel::gateway_removal() const {
  return {cmd({"nft", "delete", "table", "inet", "mnigs_openvpn"}, "", true)};
}

std::map<std::string, Admitted> OpenvpnTunnel::admitted() const {
  std::map<std::string, Admitted> out;
  for (const auto& [id, g] : sessions_) out.emplace(id, g.admitted);
  return out;
}

void OpenvpnTunnel::bring_up_gateway(std::function<void(std::string)> done) {
  if (gateway_up_) return done("");
  if (auto why = make_private_dir(settings_.run_dir); !why.empty()) return done(why);
  gateway_touched_ = true;
  queue_.run_steps({cmd({"nft", "-f", "-"}, nft_script())}, [this, done](std::string error) {
    if (!error.empty()) return done(error);
    std::vector<std::string> knobs;
    if (pool_->has4()) knobs.push_back("net.ipv4.ip_forward");
    if (pool_->has6()) knobs.push_back("net.ipv6.conf.all.forwarding");
    netcmd::turn_on_knobs(
        queue_, std::move(knobs), [this](const std::string& knob) { sysctls_on_.push_back(knob); },
        [this, done](std::string error) {
          if (!error.empty()) return done(error);
          start_servers(settings_.protocols, [this, done](std::string error) {
            if (!error.empty()) {
              // None left running: the next session tries them all again.
              auto left = std::make_shared<std::size_t>(servers_.size());
              if (*left == 0) return done(error);
              for (auto& [p, server] : servers_)
                end_server(p, [left, done, error] {
                  if (--*left == 0) done(error);
                });
              return;
            }
            gateway_up_ = true;
            context_.log().info("openvpn gateway is up (", settings_.protocols.size(), " server",
                                settings_.protocols.size() == 1 ? "" : "s", ", port ",
                                settings_.port, ")");
            done("");
          });
        });
  });
}

void OpenvpnTunnel::start_servers(std::vector<Protocol> left,
                                  std::function<void(std::string)> done) {
  if (left.empty()) return done("");
  const Protocol p = left.front();
  left.erase(left.begin());
  start_server(p, [this, left = std::move(left), done](std::string error) mutable {
    if (!error.empty()) return done(error);
    start_servers(std::move(left), std::move(done));
  });
}

void OpenvpnTunnel::end_server(Protocol p, std::function<void()> then) {
  auto it = servers_.find(p);
  if (it != servers_.end()) {
    if (it->second.management) it->second.management->close();
    it->second.management.reset();
    it->second.up = false;
    it->second.clients.clear();
  }
  for (auto& [id, g] : sessions_)
    if (g.protocol == p) g.protocol.reset();
  const std::string name = server_name(p);
  auto remove = [this, name, then] {
    ::unlink(path(name, ".sock").c_str());
    then();
  };
  if (auto pid = our_openvpn(path(name, ".pid"), settings_.run_dir))
    // Guarded: the plugin may be gone when the process is.
    return end_process(context_.executor(), *pid, kExitGrace, queue_.guard<>(remove));
  remove();
}

void OpenvpnTunnel::start_server(Protocol p, std::function<void(std::string)> done) {
  // Whatever an earlier start left of this server goes first: two servers
  // on one pid file, socket and device would leave one nobody can find.
  end_server(p, [this, p, done] {
    const std::string name = server_name(p);
    ServerFiles f;
    f.protocol = p;
    f.device = server_device(settings_, p);
    f.management = path(name, ".sock");
    f.pid_file = path(name, ".pid");
    f.log_file = path(name, ".log");
    f.cert_pem = x509::cert_pem(gateway_identity_->cert.get()).value_or("");
    f.key_pem = x509::key_pem(gateway_identity_->key.get()).value_or("");
    if (auto why = write_private_file(path(name, ".conf"), server_config(settings_, f));
        !why.empty())
      return done(why);
    const std::string what = std::string("the openvpn ") + to_string(p) + " server";
    // A server that started but does not answer is ended again.
    auto fail = [this, p, done](std::string why) { end_server(p, [done, why] { done(why); }); };
    launch(name, [this, p, f, what, done, fail](std::string error) {
      if (!error.empty()) return fail(what + ": " + error);
      auto m = ManagementClient::create(context_.executor(), f.management);
      Server& server = servers_[p];
      server.protocol = p;
      server.management = m;
      server.clients.clear();
      m->on_notification([this, p](const Message& msg) { on_server_event(p, msg); });
      m->on_end([this, p, m, what](const boost::system::error_code& ec) {
        auto it = servers_.find(p);
        if (it == servers_.end() || it->second.management != m) return;
        Server& server = it->second;
        const bool lasted =
            std::chrono::steady_clock::now() - server.started_at > std::chrono::seconds(60);
        server.backoff = lasted ? kServerRestartDelay
                                : std::min(server.backoff * 2, std::chrono::seconds(300));
        context_.log().warn(what, "'s management connection ended (", ec.message(),
                            "); starting it again in ", server.backoff.count(), " s");
        restart_server(p, server.backoff);
      });
      m->connect([this, p, m, what, done, fail](const boost::system::error_code& ec) {
        if (ec) return fail("cannot reach " + what + "'s management socket: " + ec.message());
        m->send(hold_release(), [this, p, m, what, done, fail](const boost::system::error_code& ec,
                                                              Reply r) {
          if (ec || !r.ok())
            return fail(what + " did not take \"hold release\": " + (ec ? ec.message() : r.text));
          auto it = servers_.find(p);
          if (it != servers_.end() && it->second.management == m) {
            it->second.up = true;
            it->second.started_at = std::chrono::steady_clock::now();
          }
          server_errors_.erase(p);
          done("");
        });
      });
    });
  });
}

void OpenvpnTunnel::restart_server(Protocol p, std::chrono::seconds delay) {
  auto timer = std::make_shared<boost::asio::steady_timer>(context_.executor());
  timer->expires_after(delay);
  // Guarded: a stopped or destroyed plugin's timer does nothing.
  timer->async_wait(queue_.guard<boost::system::error_code>([this, timer, p, delay,
                                                             generation = generation_](
                                                                boost::system::error_code ec) {
    if (ec || !started_ || !gateway_up_ || generation != generation_) return;
    queue_.enqueue(
        [this, p, delay](CommandQueue::Finished finished) {
          if (!started_ || !gateway_up_) return finished();
          start_server(p, [this, p, delay, finished](std::string error) {
            if (!error.empty()) {
              server_errors_[p] = error;
              context_.log().error(error, "; trying again in ", (delay * 2).count(), " s");
              // Tried for as long as the gateway is up, at most every 5 minutes.
              restart_server(p, std::min(delay * 2, std::chrono::seconds(300)));
            }
            finished();
          });
        },
        [](const std::string&) {});
  }));
}

void OpenvpnTunnel::on_server_event(Protocol p, const Message& msg) {
  if (auto auth = std::get_if<ClientAuth>(&msg)) return answer_client(p, *auth);
  auto it = servers_.find(p);
  if (it == servers_.end()) return;
  if (auto gone = std::get_if<ClientDisconnect>(&msg)) {
    auto c = it->second.clients.find(gone->cid);
    if (c == it->second.clients.end()) return;
    auto s = sessions_.find(c->second);
    if (s != sessions_.end() && s->second.protocol == p && s->second.cid == gone->cid)
      s->second.protocol.reset();
    it->second.clients.erase(c);
  }
}

void OpenvpnTunnel::answer_client(Protocol p, const ClientAuth& auth) {
  auto it = servers_.find(p);
  if (it == servers_.end() || !it->second.management) return;
  auto m = it->second.management;
  const Decision d = admit(env_map(auth.env), admitted());
  if (!d.admit) {
    ++refused_;
    context_.log().warn("openvpn ", to_string(p), " client ", auth.cid, " refused: ", d.reason);
    m->send(client_deny(auth.cid, auth.kid, d.reason, std::string_view("not admitted")),
            [](const boost::system::error_code&, Reply) {});
    return;
  }
  Command answer = auth.reauth ? client_auth_nt(auth.cid, auth.kid)
                               : client_auth(auth.cid, auth.kid, d.lines);
  GatewaySession& g = sessions_[d.session_id];
  // openvpn drops the older connection of the same common name by itself.
  const bool moved = !g.protocol || *g.protocol != p;
  if (g.protocol && (*g.protocol != p || g.cid != auth.cid)) {
    auto old = servers_.find(*g.protocol);
    if (old != servers_.end()) old->second.clients.erase(g.cid);
    if (*g.protocol != p && old != servers_.end() && old->second.management)
      old->second.management->send(client_kill(g.cid),
                                   [](const boost::system::error_code&, Reply) {});
  }
  g.protocol = p;
  g.cid = auth.cid;
  it->second.clients[auth.cid] = d.session_id;
  if (!auth.reauth) ++admitted_count_;
  m->send(answer, [this, cid = auth.cid, p](const boost::system::error_code& ec, Reply r) {
    if (ec || !r.ok())
      context_.log().warn("openvpn ", to_string(p), ": client-auth of client ", cid,
                          " failed: ", ec ? ec.message() : r.text);
  });
  // With both servers running, each session's addresses are routed to the
  // device of the server that holds it (both devices carry the pool).
  if (servers_.size() > 1 && moved) {
    std::vector<netcmd::Command> routes;
    const std::string dev = server_device(settings_, p);
    if (!g.allotment.address4.empty())
      routes.push_back(cmd({"ip", "-4", "route", "replace", g.allotment.address4 + "/32", "dev",
                            dev}));
    if (!g.allotment.address6.empty())
      routes.push_back(cmd({"ip", "-6", "route", "replace", g.allotment.address6 + "/128", "dev",
                            dev}));
    queue_.enqueue(
        [this, routes](CommandQueue::Finished finished) {
          queue_.run_all(routes, false, [this, finished](std::string e) {
            if (!e.empty()) context_.log().warn("openvpn: ", e);
            finished();
          });
        },
        [](const std::string&) {});
  }
}

void OpenvpnTunnel::open_session(const TunnelSession& session,
                                 std::function<void(std::string, Json::Value)> done) {
  if (!started_) return done("the openvpn plugin is not running", {});
  queue_.enqueue(
      [this, session, done](CommandQueue::Finished finished) {
        auto fail = [done, finished](const std::string& error) {
          done(error, Json::Value());
          finished();
        };
        // A session resumed at start may come before the key is loaded.
        with_identity(true, [this, session, done, finished, fail](std::string error) {
          if (!error.empty()) return fail("the gateway has no openvpn key: " + error);
          bring_up_gateway([this, session, done, finished, fail](std::string error) {
            if (!error.empty()) return fail(error);
            if (sessions_.count(session.id))
              return fail("session " + session.id + " is open already");
            GatewaySession g;
            g.session = session;
            std::string why;
            x509::Cert cert;
            const bool resumed = session.params.isMember("cert");
            if (resumed) {
              // The certificate issued before, if it is still ours and the
              // session's.
              cert = x509::load_cert(session.params["cert"].asString(), &why);
              if (!cert) return fail("the session's stored certificate does not load: " + why);
              if (X509_verify(cert.get(), gateway_identity_->key.get()) != 1)
                return fail("the session's certificate was issued under another gateway key");
            } else {
              auto key = x509::parse_spki_base64(session.subscriber_key, &why);
              if (!key)
                return fail("the subscriber sent no usable openvpn key (subscriberKey): " + why);
              cert = x509::issue(key.get(), session.id, kCertificateLife,
                                 gateway_identity_->key.get(), gateway_identity_->cert.get(), &why);
              if (!cert) return fail("cannot certify the subscriber's key: " + why);
            }
            auto pem = x509::cert_pem(cert.get(), &why);
            auto fingerprint = x509::cert_fingerprint(cert.get(), &why);
            if (!pem || !fingerprint) return fail(why);
            auto allotment = pool_->allot(session.params, &why);
            if (!allotment) return fail(why);
            g.allotment = *allotment;
            g.cert_pem = *pem;
            g.admitted.subscriber_address = session.subscriber_address;
            g.admitted.fingerprint = *fingerprint;
            if (!allotment->address4.empty()) {
              g.admitted.address4 = allotment->address4;
              g.admitted.netmask4 = netmask(pool_->prefix_length4());
            }
            if (!allotment->address6.empty()) {
              g.admitted.address6 =
                  allotment->address6 + "/" + std::to_string(pool_->prefix_length6());
              g.admitted.gateway6 = pool_->gateway6();
            }
            Json::Value params(Json::objectValue);
            pool_->describe(*allotment, params);
            params["cert"] = *pem;
            Json::Value protocols(Json::arrayValue);
            for (Protocol p : settings_.protocols) protocols.append(to_string(p));
            params["protocols"] = protocols;
            params["port"] = settings_.port;
            sessions_[session.id] = std::move(g);
            done("", params);
            finished();
          });
        });
      },
      [done](const std::string& reason) { done(reason, Json::Value()); });
}

void OpenvpnTunnel::close_session(const TunnelSession& session, Done done) {
  auto it = sessions_.find(session.id);
  if (it == sessions_.end()) return done("");
  GatewaySession g = std::move(it->second);
  sessions_.erase(it);
  pool_->release(g.allotment);
  if (g.protocol) {
    auto server = servers_.find(*g.protocol);
    if (server != servers_.end() && server->second.management) {
      server->second.clients.erase(g.cid);
      ++killed_;
      // HALT: the client exits rather than knocking again.
      server->second.management->send(client_kill(g.cid, std::string_view("HALT")),
                                      [](const boost::system::error_code&, Reply) {});
    }
  }
  context_.log().info("openvpn session ", session.id, " closed");
  done("");
}

}  // namespace mnigs::openvpn
