// The gateway's table of tunnels: secrets bind keys, the policies, waiting
// requests and their limits, and forgetting.
#include "registry.hpp"

#include <gtest/gtest.h>

namespace mnigs::httptunnel {
namespace {

using namespace std::chrono_literals;
using Clock = Registry::Clock;

struct FakeTunnel : Tunnel {
  explicit FakeTunnel(std::string n) : name(std::move(n)) {}
  bool has_room() const override { return room; }
  std::string describe() const override { return name; }
  std::unique_ptr<Channel> open(const ChannelRequest&, Channel::Events) override {
    return nullptr;
  }
  std::string name;
  bool room = true;
};

const std::string kKey = "token:0123456789abcdef";
const Clock::time_point t0 = Clock::time_point{} + 100h;

// Routes one request and returns the tunnel it went to ("" when it did not
// go at once) and the outcome.
std::pair<std::string, Registry::Outcome> send(Registry& r, Clock::time_point now = t0,
                                               const std::string& key = kKey) {
  std::string to;
  auto routed = r.route(key, [&](Tunnel& t) { to = t.describe(); }, now);
  return {to, routed.outcome};
}

TEST(HttpTunnelRegistry, UnknownKeyIs404AndAttachedKeyTakesRequests) {
  Registry r(Policy::failover, 20, 1h);
  EXPECT_EQ(send(r).second, Registry::Outcome::unknown);
  FakeTunnel a("a");
  EXPECT_EQ(r.attach(kKey, "s3cret", a, t0), "");
  EXPECT_EQ(send(r), std::make_pair(std::string("a"), Registry::Outcome::sent));
  EXPECT_EQ(r.tunnels(), 1u);
}

TEST(HttpTunnelRegistry, TheFirstSecretBindsTheKey) {
  Registry r(Policy::failover, 20, 1h);
  int saved = 0;
  r.on_claims_changed = [&] { ++saved; };
  FakeTunnel a("a"), b("b"), c("c");
  EXPECT_EQ(r.attach(kKey, "s3cret", a, t0), "");
  EXPECT_EQ(saved, 1);
  EXPECT_EQ(r.claims().at(kKey), Registry::digest("s3cret"));
  EXPECT_EQ(r.attach(kKey, "other", b, t0), "another secret holds this token");
  EXPECT_EQ(r.attach(kKey, "", c, t0),
            "the token is bound to a secret; a client without it cannot hold it");
  EXPECT_EQ(r.tunnels_of(kKey), 1u);
  // After the node left and the gateway restarted, the binding holds.
  r.detach(kKey, a, t0);
  Registry again(Policy::failover, 20, 1h);
  again.load_claims(r.claims());
  EXPECT_EQ(again.attach(kKey, "other", b, t0), "another secret holds this token");
  EXPECT_EQ(again.attach(kKey, "s3cret", a, t0), "");
  EXPECT_EQ(again.attach("id:tim", "x", b, t0), "");
  EXPECT_EQ(again.attach("id:tim", "y", c, t0), "another secret holds this id");
}

TEST(HttpTunnelRegistry, RefusalTellsWithoutBinding) {
  Registry r(Policy::reject, 20, 1h);
  EXPECT_EQ(r.refusal(kKey, "s3cret"), "");
  EXPECT_TRUE(r.claims().empty());
  FakeTunnel a("a");
  EXPECT_EQ(r.attach(kKey, "s3cret", a, t0), "");
  EXPECT_EQ(r.refusal(kKey, "other"), "another secret holds this token");
  EXPECT_EQ(r.refusal(kKey, "s3cret"),
            "a node holds this token already (httptunnel.policy is reject)");
  EXPECT_EQ(r.refusal(kKey, ""),
            "the token is bound to a secret; a client without it cannot hold it");
  EXPECT_EQ(r.tunnels_of(kKey), 1u);
}

TEST(HttpTunnelRegistry, WstunnelClientsHoldUnboundKeysOnlyWhenAllowed) {
  Registry r(Policy::failover, 20, 1h);
  FakeTunnel a("a"), b("b");
  EXPECT_EQ(r.attach(kKey, "", a, t0), "");
  EXPECT_TRUE(r.claims().empty());
  r.set_wstunnel_clients(false);
  EXPECT_EQ(r.attach("token:fedcba9876543210", "", b, t0),
            "this gateway takes no WStunnel clients (httptunnel.wstunnelClients is off)");
}

TEST(HttpTunnelRegistry, ASecretTakesATokenFromAWstunnelClient) {
  Registry r(Policy::failover, 20, 1h);
  std::vector<std::string> evicted;
  r.on_evicted = [&](Tunnel& t, const std::string& why) {
    evicted.push_back(t.describe() + ": " + why);
  };
  FakeTunnel ws("ws"), node("node");
  EXPECT_EQ(r.attach(kKey, "", ws, t0), "");
  EXPECT_EQ(send(r).first, "ws");
  EXPECT_EQ(r.attach(kKey, "s3cret", node, t0), "");
  EXPECT_EQ(evicted, std::vector<std::string>{"ws: a secret now holds this token"});
  EXPECT_EQ(r.tunnels_of(kKey), 1u);
  EXPECT_EQ(send(r).first, "node");
  r.detach(kKey, ws, t0);  // its close comes later: nothing changes
  EXPECT_EQ(r.tunnels_of(kKey), 1u);
}

TEST(HttpTunnelRegistry, TurningWstunnelClientsOffLetsThemGo) {
  Registry r(Policy::failover, 20, 1h);
  std::vector<std::string> evicted;
  r.on_evicted = [&](Tunnel& t, const std::string&) { evicted.push_back(t.describe()); };
  FakeTunnel ws("ws"), node("node");
  r.attach(kKey, "", ws, t0);
  r.attach("id:tim", "s3cret", node, t0);
  r.set_wstunnel_clients(false);
  EXPECT_EQ(evicted, std::vector<std::string>{"ws"});
  EXPECT_EQ(r.tunnels(), 1u);
}

TEST(HttpTunnelRegistry, RejectRefusesTheSecondNode) {
  Registry r(Policy::reject, 20, 1h);
  FakeTunnel a("a"), b("b");
  EXPECT_EQ(r.attach(kKey, "s", a, t0), "");
  EXPECT_EQ(r.attach(kKey, "s", b, t0),
            "a node holds this token already (httptunnel.policy is reject)");
  r.detach(kKey, a, t0);
  EXPECT_EQ(r.attach(kKey, "s", b, t0), "");
}

TEST(HttpTunnelRegistry, FailoverUsesTheFirstUntilItLeaves) {
  Registry r(Policy::failover, 20, 1h);
  FakeTunnel a("a"), b("b");
  r.attach(kKey, "s", a, t0);
  r.attach(kKey, "s", b, t0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(send(r).first, "a");
  a.room = false;  // full: the standby takes the overflow
  EXPECT_EQ(send(r).first, "b");
  a.room = true;
  r.detach(kKey, a, t0);
  EXPECT_EQ(send(r).first, "b");
}

TEST(HttpTunnelRegistry, BalanceTakesTurnsAndSkipsAFullTunnel) {
  Registry r(Policy::balance, 20, 1h);
  FakeTunnel a("a"), b("b"), c("c");
  r.attach(kKey, "s", a, t0);
  r.attach(kKey, "s", b, t0);
  r.attach(kKey, "s", c, t0);
  std::string order;
  for (int i = 0; i < 6; ++i) order += send(r).first;
  EXPECT_EQ(order, "abcabc");
  b.room = false;
  order.clear();
  for (int i = 0; i < 4; ++i) order += send(r).first;
  EXPECT_EQ(order, "acac");
  r.detach(kKey, a, t0);
  b.room = true;
  order.clear();
  for (int i = 0; i < 4; ++i) order += send(r).first;
  EXPECT_EQ(order.size(), 4u);
  EXPECT_EQ(order.find('a'), std::string::npos);
}

TEST(HttpTunnelRegistry, RequestsWaitForTheNodeToComeBackUpToTheQueue) {
  Registry r(Policy::failover, 3, 1h);
  FakeTunnel a("a");
  r.attach(kKey, "s", a, t0);
  r.detach(kKey, a, t0);
  std::vector<std::string> got;
  std::vector<std::uint64_t> tickets;
  for (int i = 0; i < 3; ++i) {
    auto routed =
        r.route(kKey, [&, i](Tunnel& t) { got.push_back(std::to_string(i) + t.describe()); },
                t0 + 1s);
    EXPECT_EQ(routed.outcome, Registry::Outcome::queued);
    tickets.push_back(routed.ticket);
  }
  EXPECT_EQ(send(r, t0 + 1s).second, Registry::Outcome::full);
  EXPECT_EQ(r.waiting(), 3u);
  r.cancel(kKey, tickets[1]);  // its client went away
  EXPECT_TRUE(got.empty());
  FakeTunnel back("back");
  EXPECT_EQ(r.attach(kKey, "s", back, t0 + 2s), "");
  EXPECT_EQ(got, (std::vector<std::string>{"0back", "2back"}));
  EXPECT_EQ(r.waiting(), 0u);
}

TEST(HttpTunnelRegistry, WaitingRequestsGoWhenATunnelHasRoomAgainInOrder) {
  Registry r(Policy::failover, 20, 1h);
  FakeTunnel a("a");
  r.attach(kKey, "s", a, t0);
  a.room = false;
  std::string got;
  for (const char* n : {"1", "2"})
    EXPECT_EQ(r.route(kKey, [&, n](Tunnel&) { got += n; }, t0).outcome,
              Registry::Outcome::queued);
  a.room = true;
  // A new request does not overtake those waiting.
  EXPECT_EQ(r.route(kKey, [&](Tunnel&) { got += "3"; }, t0).outcome, Registry::Outcome::queued);
  r.room(kKey, a);
  EXPECT_EQ(got, "123");
}

TEST(HttpTunnelRegistry, AKeyIsForgottenAfterItsNodeLeftLongEnough) {
  Registry r(Policy::failover, 20, 1h);
  FakeTunnel a("a");
  r.attach(kKey, "s", a, t0);
  r.detach(kKey, a, t0);
  EXPECT_EQ(send(r, t0 + 59min).second, Registry::Outcome::queued);
  Registry fresh(Policy::failover, 20, 1h);
  fresh.attach(kKey, "s", a, t0);
  fresh.detach(kKey, a, t0);
  EXPECT_EQ(send(fresh, t0 + 61min).second, Registry::Outcome::unknown);
  EXPECT_EQ(fresh.expire(t0 + 61min), 1u);
  EXPECT_TRUE(fresh.view().empty());
  // The binding outlives the entry.
  EXPECT_EQ(fresh.claims().count(kKey), 1u);
  // A key with requests waiting is kept.
  EXPECT_EQ(r.expire(t0 + 2h), 0u);
}

// An operator lets a key go that a lost secret holds: the next secret to
// hold it binds it.
TEST(HttpTunnelRegistry, AForgottenKeyIsBoundByTheNextSecret) {
  Registry r(Policy::failover, 20, 1h);
  int changes = 0;
  r.on_claims_changed = [&] { ++changes; };
  FakeTunnel a("a"), b("b");
  EXPECT_EQ(r.attach(kKey, "secret-one-0123456789", a, t0), "");
  EXPECT_EQ(changes, 1);
  r.detach(kKey, a, t0);
  EXPECT_NE(r.attach(kKey, "secret-two-0123456789", b, t0), "");
  EXPECT_FALSE(r.forget_claim("id:nobody"));
  EXPECT_TRUE(r.forget_claim(kKey));
  EXPECT_EQ(changes, 2);
  EXPECT_EQ(r.claims().count(kKey), 0u);
  EXPECT_EQ(r.attach(kKey, "secret-two-0123456789", b, t0), "");
  EXPECT_EQ(r.refusal(kKey, "secret-one-0123456789"), "another secret holds this token");
}

TEST(HttpTunnelRegistry, KnownWhileHeldAndForAnHourAfter) {
  Registry r(Policy::failover, 20, 1h);
  EXPECT_FALSE(r.known(kKey, t0));
  FakeTunnel a("a");
  r.attach(kKey, "s", a, t0);
  EXPECT_TRUE(r.known(kKey, t0 + 2h));
  const auto v = r.view();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].tunnels, std::vector<std::string>{"a"});
  EXPECT_TRUE(v[0].bound);
  r.detach(kKey, a, t0);
  EXPECT_TRUE(r.known(kKey, t0 + 59min));
  EXPECT_FALSE(r.known(kKey, t0 + 61min));
  EXPECT_EQ(shown("token:0123456789abcdef"), "token:01234567...");
  EXPECT_EQ(shown("id:tim"), "id:tim");
}

}  // namespace
}  // namespace mnigs::httptunnel
