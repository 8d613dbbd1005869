// Unit tests of when a link pings and when it gives its peer up: each rule
// on made-up times, then whole minutes of a link to a vpn-ws client, the
// client as its source behaves (unbit/vpn-ws, src/client.c, main loop at
// commit f57aaf7): select() on the socket and the tap with a 17 s timeout,
// a ping only when that select times out, server pings read and ignored.
#include "liveness.hpp"

#include <gtest/gtest.h>

#include <optional>

namespace mnigs::websocket {
namespace {

using namespace std::chrono_literals;
using Clock = LivenessRule::Clock;
using Action = LivenessStep::Action;

const Clock::time_point t0 = Clock::time_point{} + 1000s;

// The settings' defaults: the L3 tunnel's keepalive 5 s and timeout 15 s;
// the switch's l2Timeout 60 s.
LivenessRule l3_rule() { return {5s, 15s, false}; }
LivenessRule switch_rule() { return {0ms, 60s, true}; }
// What the switch did before: ping after keepalive, count only what is heard.
LivenessRule old_switch_rule() { return {5s, 60s, false}; }

TEST(Liveness, PingsOnceNothingWasSentForPingAfter) {
  LivenessTimes t{t0, t0, std::nullopt};
  auto before = liveness_step(l3_rule(), t, t0 + 4999ms);
  EXPECT_EQ(before.action, Action::wait);
  EXPECT_EQ(before.next, t0 + 5s);
  auto at = liveness_step(l3_rule(), t, t0 + 5s);
  EXPECT_EQ(at.action, Action::ping);
  // The ping counts as sending: the next one is due ping_after later.
  EXPECT_EQ(at.next, t0 + 10s);
}

TEST(Liveness, SendingPostponesThePingAndHearingPostponesGivingUp) {
  LivenessTimes t{t0 + 3s, t0 + 4s, std::nullopt};
  auto s = liveness_step(l3_rule(), t, t0 + 8s);
  EXPECT_EQ(s.action, Action::wait);
  EXPECT_EQ(s.next, t0 + 9s);  // the ping, before giving up at 18 s
  auto later = liveness_step(l3_rule(), t, t0 + 17999ms);
  EXPECT_EQ(later.action, Action::ping);
  EXPECT_EQ(later.next, t0 + 18s);  // giving up comes before the next ping
}

TEST(Liveness, GivesUpAtDeadAfterWithoutHearingEvenWhileSending) {
  LivenessTimes t{t0, t0 + 14s, std::nullopt};
  EXPECT_EQ(liveness_step(l3_rule(), t, t0 + 14999ms).action, Action::wait);
  EXPECT_EQ(liveness_step(l3_rule(), t, t0 + 15s).action, Action::give_up);
  EXPECT_EQ(liveness_step(l3_rule(), t, t0 + 99s).action, Action::give_up);
}

TEST(Liveness, AcknowledgementsCountOnlyWhenTheRuleSaysSo) {
  LivenessTimes t{t0, t0 + 50s, t0 + 50s};
  EXPECT_EQ(liveness_step(l3_rule(), t, t0 + 20s).action, Action::give_up);
  auto sw = liveness_step(switch_rule(), t, t0 + 100s);
  EXPECT_EQ(sw.action, Action::wait);
  EXPECT_EQ(sw.next, t0 + 110s);
  EXPECT_EQ(liveness_step(switch_rule(), t, t0 + 110s).action, Action::give_up);
}

TEST(Liveness, TheLaterOfHeardAndAckedIsTheLastSignOfLife) {
  EXPECT_EQ(last_sign_of_life(switch_rule(), {t0 + 9s, t0, t0 + 2s}), t0 + 9s);
  EXPECT_EQ(last_sign_of_life(switch_rule(), {t0 + 2s, t0, t0 + 9s}), t0 + 9s);
  // Unknown acknowledgements (TCP_INFO failed): hearing alone.
  EXPECT_EQ(last_sign_of_life(switch_rule(), {t0 + 2s, t0, std::nullopt}), t0 + 2s);
  EXPECT_EQ(last_sign_of_life(l3_rule(), {t0 + 2s, t0, t0 + 9s}), t0 + 2s);
}

TEST(Liveness, ASwitchPeerIsNeverPinged) {
  LivenessTimes t{t0 + 50s, t0, std::nullopt};
  for (auto now : {t0 + 1s, t0 + 17s, t0 + 59s, t0 + 109s}) {
    auto s = liveness_step(switch_rule(), t, now);
    EXPECT_EQ(s.action, Action::wait);
    EXPECT_EQ(s.next, t0 + 110s);
  }
}

TEST(Liveness, NextIsNeverBeforeNow) {
  for (auto rule : {l3_rule(), switch_rule(), old_switch_rule()})
    for (int sent = 0; sent < 80; sent += 7)
      for (int heard = 0; heard < 80; heard += 5)
        for (int now = std::max(sent, heard); now < 140; now += 3) {
          LivenessTimes t{t0 + std::chrono::seconds(heard), t0 + std::chrono::seconds(sent),
                          t0 + std::chrono::seconds(heard)};
          auto s = liveness_step(rule, t, t0 + std::chrono::seconds(now));
          if (s.action != Action::give_up) {
            EXPECT_GT(s.next, t0 + std::chrono::seconds(now));
          }
        }
}

// ---- minutes of a link to a vpn-ws client, in steps of 100 ms ----

// The client: select() on its socket and tap, 17 s timeout; when it times
// out, an unmasked ping. Anything from the server (data, pings, pongs)
// returns from select and starts a fresh 17 s.
constexpr auto kClientIdle = 17s;

struct Outcome {
  std::optional<Clock::duration> given_up;  // when the link gave the client up
  int client_pings = 0;
  int link_pings = 0;
};

// flood_every: how often the switch delivers a frame of another peer to the
// client (zero: a quiet switch). vanish_at: from then on the client's host
// sends nothing, not even acknowledgements.
Outcome simulate(const LivenessRule& rule, Clock::duration length, Clock::duration flood_every = 0s,
                 std::optional<Clock::duration> vanish_at = std::nullopt) {
  Outcome run;
  LivenessTimes link{t0, t0, std::nullopt};
  if (rule.acks_count) link.acked = t0;
  Clock::time_point client_wakes = t0 + kClientIdle;  // its select's timeout
  Clock::time_point next_check = liveness_step(rule, link, t0).next;
  auto deliver = [&](Clock::time_point now, bool gone) {
    link.sent = now;
    if (gone) return;
    client_wakes = now + kClientIdle;
    if (rule.acks_count) link.acked = now;
  };
  for (Clock::duration d = 100ms; d <= length; d += 100ms) {
    const Clock::time_point now = t0 + d;
    const bool gone = vanish_at && d >= *vanish_at;
    if (flood_every.count() > 0 && d % flood_every == Clock::duration::zero()) deliver(now, gone);
    if (!gone && now >= client_wakes) {
      ++run.client_pings;
      link.heard = now;
      client_wakes = now + kClientIdle;
      deliver(now, gone);  // the link answers the ping with a pong
    }
    if (now < next_check) continue;
    auto step = liveness_step(rule, link, now);
    if (step.action == Action::give_up) {
      run.given_up = d;
      return run;
    }
    if (step.action == Action::ping) {
      ++run.link_pings;
      deliver(now, gone);
    }
    next_check = step.next;
  }
  return run;
}

TEST(LivenessVpnWs, TheOldRuleDroppedAQuietClientAfterL2Timeout) {
  // The issue as reported: our pings every 5 s keep the client from ever
  // pinging, and since it never answers, it is dropped at 60 s.
  Outcome r = simulate(old_switch_rule(), 300s);
  EXPECT_EQ(r.client_pings, 0);
  EXPECT_GT(r.link_pings, 10);
  ASSERT_TRUE(r.given_up);
  EXPECT_EQ(*r.given_up, 60s);
}

TEST(LivenessVpnWs, AQuietClientPingsEvery17sAndStays) {
  Outcome r = simulate(switch_rule(), 600s);
  EXPECT_FALSE(r.given_up) << "given up after " << r.given_up->count();
  EXPECT_EQ(r.link_pings, 0);
  EXPECT_EQ(r.client_pings, 35);  // 600 s / 17 s
}

TEST(LivenessVpnWs, AFloodedClientNeverPingsYetStaysWhileItsTcpAcknowledges) {
  // Frames of other peers every 5 s: the client's select never times out,
  // so it never pings and sends nothing; the switch hears nothing from it.
  Outcome old_rule = simulate(old_switch_rule(), 300s, 5s);
  EXPECT_EQ(old_rule.client_pings, 0);
  ASSERT_TRUE(old_rule.given_up);
  EXPECT_EQ(*old_rule.given_up, 60s);

  Outcome r = simulate(switch_rule(), 600s, 5s);
  EXPECT_EQ(r.client_pings, 0);
  EXPECT_EQ(r.link_pings, 0);
  EXPECT_FALSE(r.given_up);
  // Frames every 16.9 s still keep it from pinging.
  Outcome rare = simulate(switch_rule(), 600s, 16900ms);
  EXPECT_EQ(rare.client_pings, 0);
  EXPECT_FALSE(rare.given_up);
}

TEST(LivenessVpnWs, AVanishedClientIsGivenUpL2TimeoutAfterItsLastSignOfLife) {
  // Quiet switch: its last ping was at 85 s (5 x 17 s); it vanishes at 90 s.
  Outcome quiet = simulate(switch_rule(), 600s, 0s, 90s);
  ASSERT_TRUE(quiet.given_up);
  EXPECT_EQ(*quiet.given_up, 85s + 60s);
  // Flooded every 5 s: its last acknowledgement was for the frame at 85 s.
  Outcome flooded = simulate(switch_rule(), 600s, 5s, 88s);
  ASSERT_TRUE(flooded.given_up);
  EXPECT_EQ(*flooded.given_up, 85s + 60s);
}

TEST(PingBudget, AnswersABurstThenFourASecond) {
  PingBudget budget;  // 8, then one per 250 ms
  int answered = 0;
  for (int i = 0; i < 100; ++i) answered += budget.take(t0);
  EXPECT_EQ(answered, 8) << "a flood at one instant gets the burst only";
  EXPECT_FALSE(budget.take(t0 + 249ms));
  EXPECT_TRUE(budget.take(t0 + 250ms));
  EXPECT_FALSE(budget.take(t0 + 250ms));
  // A flood of 1000 pings a second for 10 s: 4 a second are answered.
  answered = 0;
  for (int ms = 1000; ms < 11000; ++ms) answered += budget.take(t0 + std::chrono::milliseconds(ms));
  EXPECT_GE(answered, 40);
  EXPECT_LE(answered, 48);
}

TEST(PingBudget, PeersThatPingAtTheirOwnPaceAreAlwaysAnswered) {
  // mnigs at keepalive 1 s, and a vpn-ws client after 17 s idle.
  for (auto every : {1000ms, 17000ms}) {
    PingBudget budget;
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(budget.take(t0 + i * every)) << i;
  }
}

TEST(PingBudget, IdleTimeSavesNoMoreThanTheBurst) {
  PingBudget budget(8, 250ms);
  int answered = 0;
  for (int i = 0; i < 100; ++i) answered += budget.take(t0 + 3600s);
  EXPECT_EQ(answered, 8);
}

}  // namespace
}  // namespace mnigs::websocket
