#include "subscriber/history.hpp"

#include <boost/asio/post.hpp>

namespace mnigs {

ConnectionHistory::ConnectionHistory(boost::asio::io_context& io, Describe describe,
                                     std::function<std::int64_t()> wall,
                                     std::chrono::milliseconds interval)
    : describe_(std::move(describe)),
      wall_(std::move(wall)),
      strand_(boost::asio::make_strand(io)),
      interval_(interval),
      timer_(strand_) {}

Json::Value ConnectionHistory::sample_of(const Json::Value& subscriber, std::int64_t time) {
  Json::Value s(Json::objectValue);
  s["time"] = static_cast<Json::Int64>(time);
  s["state"] = subscriber["state"].isString() ? subscriber["state"] : Json::Value("");
  const Json::Value& c = subscriber["connection"];
  s["gateway"] =
      c.isObject() && c["gatewayAddress"].isString() ? c["gatewayAddress"] : Json::Value("");
  const Json::Value& health = subscriber["health"];
  if (health.isObject()) {
    if (health["rttMs"].isObject() && health["rttMs"]["median"].isNumeric())
      s["rttMs"] = health["rttMs"]["median"];
    if (health["loss"].isNumeric()) s["loss"] = health["loss"];
  }
  if (c.isObject() && c["traffic"].isObject() && c["traffic"]["counted"].asBool()) {
    s["bytesOut"] = c["traffic"]["bytesOut"];
    s["bytesIn"] = c["traffic"]["bytesIn"];
  }
  return s;
}

void ConnectionHistory::start() {
  boost::asio::post(strand_, [this] { tick(); });
}

void ConnectionHistory::tick() {
  if (stopped_) return;
  describe_([this](Json::Value subscriber) {
    boost::asio::post(strand_, [this, subscriber = std::move(subscriber)] {
      if (stopped_) return;
      samples_.push_back(sample_of(subscriber, wall_()));
      if (samples_.size() > kSamples) samples_.pop_front();
      timer_.expires_after(interval_);
      timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) tick();
      });
    });
  });
}

void ConnectionHistory::stop() {
  boost::asio::post(strand_, [this] {
    stopped_ = true;
    timer_.cancel();
  });
}

void ConnectionHistory::get(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done = std::move(done)] {
    Json::Value out(Json::objectValue);
    out["interval"] = static_cast<Json::Int64>(
        std::chrono::duration_cast<std::chrono::seconds>(interval_).count());
    Json::Value list(Json::arrayValue);
    for (const auto& s : samples_) list.append(s);
    out["samples"] = std::move(list);
    done(std::move(out));
  });
}

}  // namespace mnigs
