// The last events of the bus, for clients that cannot subscribe: the web UI
// long-polls them with the `events` method ({"after": seq, "wait": s}) and
// gets each event once, in order, as soon as it happens, without polling
// every few hundred milliseconds. Bounded: the last kCapacity events
// (scan.node, one per node found, is left out: scan.progress and
// scan.finished say the same in bulk), at most kMaxWaiters calls waiting.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>

#include "events/event_bus.hpp"

namespace mnigs {

class EventLog {
 public:
  static constexpr std::size_t kCapacity = 500;
  static constexpr std::size_t kMaxWaiters = 16;
  static constexpr std::size_t kMaxPerAnswer = 200;
  static constexpr std::chrono::seconds kMaxWait{25};
  // An event's data larger than this (as JSON text) is replaced by
  // {"truncated": true}.
  static constexpr std::size_t kMaxDataBytes = 4096;

  // `wall`: seconds since the epoch, the events' "time".
  EventLog(boost::asio::io_context& io, CoreEventBus& bus, std::function<std::int64_t()> wall);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // `done` gets {"events": [{"seq", "time", "topic", "data"}...], "next",
  // "missed", "time", "run"}: the events after `after` (at most
  // kMaxPerAnswer; "next" is the seq to ask after next time), waiting up to
  // `wait` (at most kMaxWait) for the first when there is none. "missed" is
  // true when events after `after` are no longer kept, or `after` is beyond
  // the last seq (from an earlier run of mnigsd): the client should read
  // afresh what it shows. "run" names this run of mnigsd (random): when it
  // changes, seqs start again, whatever `after` was. With kMaxWaiters calls
  // waiting, the one waiting longest is answered to make room. `done` runs
  // on the io_context.
  void query(std::uint64_t after, std::chrono::seconds wait, std::function<void(Json::Value)> done);
  // Answers every waiting call now and stops recording. Call before the
  // io_context stops.
  void stop();

 private:
  struct Entry {
    std::uint64_t seq;
    std::int64_t time;
    std::string topic;
    Json::Value data;
  };
  struct Waiter {
    std::uint64_t id;
    std::uint64_t after;
    std::unique_ptr<boost::asio::steady_timer> timer;
    std::function<void(Json::Value)> done;
  };
  void record(const std::string& topic, const Json::Value& data);
  Json::Value answer(std::uint64_t after) const;
  void wake();

  CoreEventBus& bus_;
  std::function<std::int64_t()> wall_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  EventBus::Subscription subscription_ = 0;
  std::deque<Entry> entries_;
  std::uint64_t last_seq_ = 0;
  const std::string run_;
  std::list<Waiter> waiters_;
  std::uint64_t next_waiter_ = 0;
  bool stopped_ = false;
};

}  // namespace mnigs
