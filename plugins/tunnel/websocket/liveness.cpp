#include "liveness.hpp"

#include <algorithm>

namespace mnigs::websocket {

using Clock = LivenessRule::Clock;

Clock::time_point last_sign_of_life(const LivenessRule& rule, const LivenessTimes& times) {
  if (rule.acks_count && times.acked) return std::max(times.heard, *times.acked);
  return times.heard;
}

LivenessStep liveness_step(const LivenessRule& rule, const LivenessTimes& times,
                           Clock::time_point now) {
  LivenessStep step;
  const Clock::time_point dead_at = last_sign_of_life(rule, times) + rule.dead_after;
  if (now >= dead_at) {
    step.action = LivenessStep::Action::give_up;
    return step;
  }
  step.next = dead_at;
  if (rule.ping_after.count() > 0) {
    Clock::time_point ping_at = times.sent + rule.ping_after;
    if (now >= ping_at) {
      step.action = LivenessStep::Action::ping;
      ping_at = now + rule.ping_after;  // the ping about to be sent counts as sending
    }
    step.next = std::min(step.next, ping_at);
  }
  return step;
}

}  // namespace mnigs::websocket
