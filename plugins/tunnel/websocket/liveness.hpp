// When a link pings and when it gives its peer up. Logic only: the link
// hands in the times of what happened and `now`, and gets back what to do
// and when to look again, so a test drives it with made-up times.
//
// Two kinds of peer:
//
// - mnigs at both ends (the L3 tunnel): each end pings after `ping_after`
//   without sending and answers pings, so a live peer is always heard.
//   The link is given up after `dead_after` without hearing anything.
//
// - vpn-ws switch peers. A vpn-ws client pings only when it has neither
//   received nor had anything to send for 17 s, and never answers pings.
//   A ping from us resets its 17 s wait, so pinging it every few seconds
//   keeps it from ever pinging, and a switch that keeps delivering frames
//   to it (broadcasts of other peers) does the same. Its silence alone
//   says nothing, then. What does: its TCP acknowledging what we send
//   (`acked`, from the kernel's TCP_INFO), which only a live host does.
//   So the switch sends it no pings (`ping_after` zero) and keeps it while
//   it was heard or acknowledged something within `dead_after`. The link
//   also sets TCP_USER_TIMEOUT to `dead_after`, so data left unacknowledged
//   that long (a vanished peer the switch is sending to, or a receive
//   window that stays shut) aborts the connection.
//
// Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <optional>

namespace mnigs::websocket {

struct LivenessRule {
  using Clock = std::chrono::steady_clock;
  // Ping after this long without sending; zero: never ping.
  std::chrono::milliseconds ping_after{5000};
  // Give the peer up after this long without a sign of life.
  std::chrono::milliseconds dead_after{15000};
  // Whether the peer's TCP acknowledging our data counts as a sign of life
  // (besides hearing from it).
  bool acks_count = false;
};

// What a link knows when it looks.
struct LivenessTimes {
  LivenessRule::Clock::time_point heard;  // bytes last arrived from the peer
  LivenessRule::Clock::time_point sent;   // bytes last left for the peer
  // When the peer's TCP last acknowledged anything (nullopt: not known, or
  // acknowledgements do not count).
  std::optional<LivenessRule::Clock::time_point> acked;
};

struct LivenessStep {
  enum class Action { wait, ping, give_up };
  Action action = Action::wait;
  // Look again then (after sending the ping, when the action is ping).
  // Unset when the action is give_up.
  LivenessRule::Clock::time_point next{};
};

// How many of the peer's pings a link answers: a bucket of `burst` that
// refills by one every `refill`. A ping beyond it is not answered and is
// no sign of life, so a flood of pings neither queues pongs nor keeps a
// link alive. The defaults (8, then 4 a second) are far above what either
// kind of peer sends: mnigs pings after `keepalive` (1 s at least) without
// sending, vpn-ws clients after 17 s idle.
class PingBudget {
 public:
  using Clock = LivenessRule::Clock;
  explicit PingBudget(unsigned burst = 8, Clock::duration refill = std::chrono::milliseconds(250))
      : burst_(burst), tokens_(burst), refill_(refill) {}
  // Whether a ping that arrived at `now` is answered (and takes a token).
  // Pass a non-decreasing clock.
  bool take(Clock::time_point now);

 private:
  unsigned burst_;
  unsigned tokens_;
  Clock::duration refill_;
  std::optional<Clock::time_point> last_;  // tokens were counted up to here
};

// The latest sign of life: `heard`, or `acked` when it counts and is later.
LivenessRule::Clock::time_point last_sign_of_life(const LivenessRule& rule,
                                                  const LivenessTimes& times);

// What to do at `now`. Gives up once `dead_after` has passed since the last
// sign of life (at exactly that age too); else pings once `ping_after` has
// passed since sending; `next` is the earlier of the two deadlines that
// follow, never before `now`.
LivenessStep liveness_step(const LivenessRule& rule, const LivenessTimes& times,
                           LivenessRule::Clock::time_point now);

}  // namespace mnigs::websocket
