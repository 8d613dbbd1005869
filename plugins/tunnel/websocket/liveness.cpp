#include "liveness.hpp"

#include <algorithm>
#include <cstdint>

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

bool PingBudget::take(Clock::time_point now) {
  if (!last_) last_ = now;
  if (now > *last_ && refill_.count() > 0) {
    const std::int64_t add = (now - *last_) / refill_;
    if (add >= static_cast<std::int64_t>(burst_ - tokens_)) {
      tokens_ = burst_;
      last_ = now;  // a full bucket saves nothing up
    } else {
      tokens_ += static_cast<unsigned>(add);
      *last_ += add * refill_;
    }
  }
  if (tokens_ == 0) return false;
  --tokens_;
  return true;
}

}  // namespace mnigs::websocket
