// The gateway side of tunnel/cjdns: a session's addresses from the pool,
// IpTunnel_allowConnection for the subscriber's key, the pool's first
// addresses on cjdroute's TUN and the pool masqueraded out of the uplink.
#include <json/writer.h>

#include <algorithm>

#include <mnigs/log.hpp>

#include "iptunnel.hpp"
#include "masquerade.hpp"
#include "sysctl_knob.hpp"

namespace mnigs::iptunnel {

namespace {
constexpr const char* kTable = "mnigs_iptunnel";
}

std::vector<Command> IpTunnelPlugin::gateway_removal(const std::vector<std::string>& knobs,
                                                     const std::string& device) const {
  std::vector<Command> c;
  Command drop;
  drop.argv = {"nft", "delete", "table", "inet", kTable};
  drop.removal = true;
  c.push_back(drop);
  if (!device.empty()) {
    if (pool_->has4())
      c.push_back(netcmd::ip_command(
          netcmd::Family::v4,
          {"addr", "del", pool_->gateway4() + "/" + std::to_string(pool_->prefix_length4()),
           "dev", device},
          true));
    if (pool_->has6())
      c.push_back(netcmd::ip_command(
          netcmd::Family::v6,
          {"addr", "del", pool_->gateway6() + "/" + std::to_string(pool_->prefix_length6()),
           "dev", device},
          true));
  }
  for (const auto& knob : knobs) c.push_back(netcmd::write_knob(knob, false));
  return c;
}

void IpTunnelPlugin::bring_up_gateway(std::function<void(std::string)> done) {
  if (gateway_up_) return done("");
  // cjdroute hands a subscriber's packets to its TUN but gives the TUN no
  // address of the pool: the kernel needs one to route the pool there and
  // to answer at gateway4/gateway6.
  std::vector<Command> steps;
  if (pool_->has4())
    steps.push_back(netcmd::ip_command(
        netcmd::Family::v4,
        {"addr", "replace", pool_->gateway4() + "/" + std::to_string(pool_->prefix_length4()),
         "dev", tun_}));
  if (pool_->has6())
    steps.push_back(netcmd::ip_command(
        netcmd::Family::v6,
        {"addr", "replace", pool_->gateway6() + "/" + std::to_string(pool_->prefix_length6()),
         "dev", tun_, "nodad"}));
  // The TUN carries the whole cjdns mesh too: only the pool is NATed, and
  // cjdroute itself drops what a subscriber sends from addresses outside
  // its allocation (tunnel/IpTunnel.c isValidAddress).
  const std::string out = tunnels::uplink_match(settings_.uplink, "\"" + tun_ + "\"");
  Command nat;
  nat.argv = {"nft", "-f", "-"};
  nat.input = tunnels::masquerade_table(kTable, settings_.pool4, settings_.pool6, out);
  steps.push_back(nat);
  Json::Value rec(Json::objectValue);
  rec["device"] = tun_;
  // Recorded first: a crash from here on leaves nothing reset() would miss.
  context_.store().put(
      "gateway", [&] {
        Json::StreamWriterBuilder b;
        b["indentation"] = "";
        return Json::writeString(b, rec);
      }(),
      queue_.guard<bool>([this, steps, done](bool) mutable {
        queue_.run_steps(std::move(steps), [this, done](std::string error) {
          if (!error.empty()) return done(error);
          std::vector<std::string> knobs;
          if (pool_->has4()) knobs.push_back("net.ipv4.ip_forward");
          if (pool_->has6()) knobs.push_back("net.ipv6.conf.all.forwarding");
          netcmd::turn_on_knobs(
              queue_, knobs, [this](const std::string& k) { sysctls_on_.push_back(k); },
              [this, done](std::string error) {
                if (!error.empty()) return done(error);
                gateway_up_ = true;
                context_.log().info("cjdns IpTunnel gateway is up on ", tun_);
                done("");
              });
        });
      }));
}

void IpTunnelPlugin::open_session(const TunnelSession& session,
                                  std::function<void(std::string, Json::Value)> done) {
  if (!started_) return done("the iptunnel plugin is not running", {});
  const std::string& key = session.subscriber_key;
  if (key.empty())
    return done(refuse("noSubscriberKey",
                       "session " + session.id + " of " + session.subscriber_address +
                           ": the subscriber sent no cjdns public key (subscriberKey), which "
                           "IpTunnel admits it by"),
                {});
  if (auto why = key_refusal(key); !why.empty())
    return done(refuse("badKey", "session " + session.id + ": the subscriber's key \"" +
                                     key.substr(0, 60) + "\" is no cjdns public key: " + why),
                {});
  // A subscriber reached over cjdns must use its own key: otherwise it
  // could squat on another node's, which would then be refused (keyInUse).
  if (auto why = mesh_key_refusal(key, session.subscriber_address); !why.empty())
    return done(refuse("badKey", "session " + session.id + " of " + session.subscriber_address +
                                     ": the subscriber's key " + key + " is refused: " + why),
                {});
  queue_.enqueue(
      [this, session, done](CommandQueue::Finished finished) {
        auto fail = [done, finished](const std::string& error) {
          done(error, Json::Value());
          finished();
        };
        const std::string& key = session.subscriber_key;
        for (const auto& [id, other] : sessions_)
          if (other.session.subscriber_key == key && id != session.id)
            return fail(refuse("keyInUse",
                               "the subscriber's cjdns key holds session " + id +
                                   " already: cjdroute tells IpTunnel connections apart by key, "
                                   "so a key holds one session"));
        for (const auto& [id, up] : uplinks_)
          if (up.session.params["gatewayKey"].asString() == key)
            return fail(refuse("keyInUse", "the subscriber's cjdns key is that of a gateway this "
                                           "node is connected to"));
        find_tun([this, session, fail, done, finished](std::string error) {
          if (!error.empty()) return fail("cannot set up the cjdns tunnel: " + error);
          if (own_ && session.subscriber_key == own_->key)
            return fail(refuse("badKey", "the subscriber's cjdns key is this gateway's own"));
          std::string why;
          auto addresses = pool_->allot(session.params, &why);
          if (!addresses) return fail("session " + session.id + ": " + why);
          allow(session, *addresses, [done, finished](std::string error, Json::Value params) {
            done(std::move(error), std::move(params));
            finished();
          });
        });
      },
      [done](const std::string& reason) { done(reason, Json::Value()); });
}

// Looks at what cjdroute holds first: a connection of this plugin that
// still covers the key or the addresses (an earlier allow whose reply was
// lost, a removal not yet confirmed) would win cjdroute's first-match
// lookups, so it goes; one this plugin did not make (cjdroute.conf's
// ipTunnel) refuses the session instead.
void IpTunnelPlugin::allow(const TunnelSession& session, tunnels::AddressPool::Allotment a,
                           std::function<void(std::string, Json::Value)> done) {
  auto release = [this, a] { pool_->release(a); };
  auto fail = [release, done](const std::string& error) {
    release();
    done(error, Json::Value());
  };
  scan([this, session, a, release, fail, done](std::string error, std::vector<Connection> all) {
    if (!error.empty()) return fail("cannot set up the cjdns tunnel: " + error);
    const std::string& key = session.subscriber_key;
    std::vector<Connection> stale;
    for (const auto& c : all) {
      const bool ours = recorded(c);
      const bool live = std::any_of(sessions_.begin(), sessions_.end(), [&](const auto& s) {
        return s.second.connection == c.number;
      });
      const bool covers = !c.outgoing && (holds_address(c, a.address4) ||
                                          holds_address(c, a.address6));
      if (c.key != key && !covers) continue;
      if (!ours || live)
        return fail(refuse(c.key == key ? "keyInUse" : "addressInUse",
                           "cjdroute holds IpTunnel connection " + std::to_string(c.number) +
                               (c.outgoing ? " to " : " from ") + c.key +
                               (c.key == key ? ", the subscriber's key,"
                                             : ", which covers " + a.address4 + " " + a.address6 +
                                                   ",") +
                               " and this plugin did not make it (for this session)"));
      stale.push_back(c);
    }
    remove_all(stale, [this, session, a, release, fail, done](std::string error) {
      if (!error.empty()) return fail("cannot remove a stale IpTunnel connection: " + error);
      bring_up_gateway([this, session, a, release, fail, done](std::string error) {
        if (!error.empty()) return fail("cannot set up the cjdns tunnel: " + error);
        Allowance allow;
        allow.key = session.subscriber_key;
        allow.ip4 = a.address4;
        allow.ip6 = a.address6;
        allow.ip4_prefix = settings_.ip4_prefix;
        allow.ip6_prefix = settings_.ip6_prefix;
        auto admitted = [this, session, a, allow, done](std::int64_t n) {
          Json::Value what(Json::objectValue);
          what["key"] = session.subscriber_key;
          what["outgoing"] = false;
          what["session"] = session.id;
          what["address4"] = a.address4;
          what["address6"] = a.address6;
          record(n, what);
          GatewaySession g;
          g.session = session;
          g.connection = n;
          g.address4 = a.address4;
          g.address6 = a.address6;
          sessions_[session.id] = g;
          Json::Value params(Json::objectValue);
          pool_->describe(a, params);
          // What cjdroute was told to route on the subscriber, which a
          // mnigs subscriber checks against what its cjdroute receives.
          if (!a.address4.empty()) params["cjdnsPrefix4"] = allow.ip4_prefix;
          if (!a.address6.empty()) params["cjdnsPrefix6"] = allow.ip6_prefix;
          context_.log().info("session ", session.id, ": IpTunnel connection ", n, " allows ",
                              session.subscriber_key, " ", a.address4, " ", a.address6);
          done("", params);
        };
        call("IpTunnel_allowConnection", allow_args(allow),
             [this, session, a, release, fail, admitted, done](const Reply& r,
                                                          const std::string& error) {
               std::string why = error;
               auto n = why.empty() ? parse_connection(r.value, &why) : std::nullopt;
               if (n) return admitted(*n);
               if (error.empty() || r.status == Reply::Status::remote_error) {
                 refuse(error.empty() ? "malformed" : "cjdrouteError", why);
                 return fail("cjdroute did not allow the subscriber's IpTunnel connection: " +
                             why);
               }
               if (r.status != Reply::Status::timeout)
                 return fail("cjdroute did not allow the subscriber's IpTunnel connection: " +
                             why);
               // cjdroute may have acted and its reply been lost: look for
               // the connection by key and addresses before giving up.
               Expect e{-1, session.subscriber_key, false, a.address4, a.address6};
               scan([this, e, a, why, fail, admitted, done](std::string error,
                                                      std::vector<Connection> all) {
                 if (error.empty()) {
                   for (const auto& c : all)
                     if (e.matches(c)) return admitted(c.number);
                   return fail("cjdroute did not allow the subscriber's IpTunnel connection: " +
                               why);
                 }
                 // Unknown whether it exists: keep the addresses reserved
                 // and remove whatever turns up for this key later.
                 pending_.push_back({e, 0});
                 schedule_removals();
                 done("cjdroute did not answer IpTunnel_allowConnection (" + why +
                          ") and cannot be asked what it did: the addresses stay reserved "
                          "until any connection it made is removed",
                      Json::Value());
               });
             });
      });
    });
  });
}

void IpTunnelPlugin::close_session(const TunnelSession& session, Done done) {
  queue_.enqueue(
      [this, session, done](CommandQueue::Finished finished) {
        auto it = sessions_.find(session.id);
        if (it == sessions_.end()) {
          done("");
          return finished();
        }
        GatewaySession g = std::move(it->second);
        sessions_.erase(it);
        if (g.connection < 0) {  // gone with cjdroute already
          pool_->release({g.address4, g.address6});
          done("");
          return finished();
        }
        Expect e{g.connection, g.session.subscriber_key, false, g.address4, g.address6};
        // The addresses are free again only once cjdroute no longer holds
        // a connection for them: until then the old key could still send
        // as (and receive for) a new session given the same addresses.
        remove_checked(e, [this, g, e, done, finished](std::string error, Shown) {
          if (error.empty()) {
            pool_->release({g.address4, g.address6});
          } else {
            pending_.push_back({e, 0});
            schedule_removals();
            error = "cannot remove IpTunnel connection " + std::to_string(g.connection) +
                    " of session " + g.session.id +
                    " (retried; its addresses stay reserved until it is gone): " + error;
          }
          done(error);
          finished();
        });
      },
      [done](const std::string& reason) { done(reason); });
}

}  // namespace mnigs::iptunnel
