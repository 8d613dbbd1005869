#include "events/event_log.hpp"

#include <boost/asio/post.hpp>

#include "util/json_text.hpp"
#include "util/token.hpp"

namespace mnigs {

EventLog::EventLog(boost::asio::io_context& io, CoreEventBus& bus,
                   std::function<std::int64_t()> wall)
    : bus_(bus),
      wall_(std::move(wall)),
      strand_(boost::asio::make_strand(io)),
      run_(random_hex(8)) {
  subscription_ = bus_.subscribe(
      "*", [this](const std::string& topic, const Json::Value& data) { record(topic, data); },
      strand_);
}

EventLog::~EventLog() { bus_.unsubscribe(subscription_); }

void EventLog::record(const std::string& topic, const Json::Value& data) {
  if (stopped_ || topic == "scan.node") return;
  Entry e{++last_seq_, wall_(), topic, data};
  if (to_json_text(e.data).size() > kMaxDataBytes) {
    e.data = Json::Value(Json::objectValue);
    e.data["truncated"] = true;
  }
  entries_.push_back(std::move(e));
  if (entries_.size() > kCapacity) entries_.pop_front();
  wake();
}

Json::Value EventLog::answer(std::uint64_t after) const {
  Json::Value out(Json::objectValue);
  Json::Value events(Json::arrayValue);
  const bool from_before = after > last_seq_;  // another run of mnigsd
  if (from_before) after = 0;
  const std::uint64_t first = entries_.empty() ? last_seq_ + 1 : entries_.front().seq;
  std::uint64_t next = after;
  for (const auto& e : entries_) {
    if (e.seq <= after) continue;
    if (events.size() >= kMaxPerAnswer) break;
    Json::Value v(Json::objectValue);
    v["seq"] = static_cast<Json::Int64>(e.seq);
    v["time"] = static_cast<Json::Int64>(e.time);
    v["topic"] = e.topic;
    v["data"] = e.data;
    events.append(std::move(v));
    next = e.seq;
  }
  out["events"] = std::move(events);
  out["next"] = static_cast<Json::Int64>(next);
  // Events after `after` that are no longer kept.
  out["missed"] = from_before || (after < last_seq_ && after + 1 < first);
  out["time"] = static_cast<Json::Int64>(wall_());
  out["run"] = run_;
  return out;
}

void EventLog::wake() {
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->after >= last_seq_ && !stopped_) {
      ++it;
      continue;
    }
    it->timer->cancel();
    auto done = std::move(it->done);
    const std::uint64_t after = it->after;
    it = waiters_.erase(it);
    done(answer(after));
  }
}

void EventLog::query(std::uint64_t after, std::chrono::seconds wait,
                     std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, after, wait, done = std::move(done)]() mutable {
    const bool waiting_helps = !stopped_ && wait.count() > 0 && after == last_seq_;
    if (!waiting_helps) return done(answer(after));
    // Full: the call waiting longest is answered now (it comes back at
    // once if its client is still there), so reloaded pages whose calls
    // still wait cannot keep a new one from waiting.
    if (waiters_.size() >= kMaxWaiters) {
      Waiter oldest = std::move(waiters_.front());
      waiters_.pop_front();
      oldest.timer->cancel();
      oldest.done(answer(oldest.after));
    }
    auto timer = std::make_unique<boost::asio::steady_timer>(strand_);
    timer->expires_after(std::min(wait, kMaxWait));
    const std::uint64_t id = ++next_waiter_;
    timer->async_wait([this, id](boost::system::error_code ec) {
      if (ec) return;  // answered already
      for (auto it = waiters_.begin(); it != waiters_.end(); ++it)
        if (it->id == id) {
          auto answer_to = std::move(it->done);
          const std::uint64_t a = it->after;
          waiters_.erase(it);
          return answer_to(answer(a));
        }
    });
    waiters_.push_back(Waiter{id, after, std::move(timer), std::move(done)});
  });
}

void EventLog::stop() {
  boost::asio::post(strand_, [this] {
    stopped_ = true;
    wake();
  });
}

}  // namespace mnigs
