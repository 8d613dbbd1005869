// The daemon's event bus. Subscribers name the executor their handler runs on;
// publishing never runs a handler inline. Thread-safe.
#pragma once

#include <mnigs/events.hpp>
#include <mnigs/log.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <map>
#include <mutex>

namespace mnigs {

class CoreEventBus final : public EventBus {
 public:
  explicit CoreEventBus(boost::asio::any_io_executor default_executor)
      : default_executor_(std::move(default_executor)) {}

  void publish(const std::string& topic, Json::Value data) override;
  Subscription subscribe(const std::string& topic, Handler handler) override;
  Subscription subscribe(const std::string& topic, Handler handler,
                         boost::asio::any_io_executor executor);
  void unsubscribe(Subscription id) override;

 private:
  struct Entry {
    std::string topic;
    Handler handler;
    boost::asio::any_io_executor executor;
  };
  static bool matches(const std::string& pattern, const std::string& topic);

  boost::asio::any_io_executor default_executor_;
  std::mutex mutex_;
  std::map<Subscription, Entry> subscribers_;
  Subscription next_id_ = 1;
};

}  // namespace mnigs
