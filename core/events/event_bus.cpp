#include "events/event_bus.hpp"

#include <boost/asio/post.hpp>

#include <memory>

namespace mnigs {

bool CoreEventBus::matches(const std::string& pattern, const std::string& topic) {
  if (pattern == "*" || pattern == topic) return true;
  return !pattern.empty() && pattern.back() == '.' && topic.starts_with(pattern);
}

void CoreEventBus::publish(const std::string& topic, Json::Value data) {
  auto shared = std::make_shared<const Json::Value>(std::move(data));
  std::lock_guard lock(mutex_);
  for (const auto& [id, e] : subscribers_) {
    if (!matches(e.topic, topic)) continue;
    boost::asio::post(e.executor, [handler = e.handler, topic, shared] { handler(topic, *shared); });
  }
}

EventBus::Subscription CoreEventBus::subscribe(const std::string& topic, Handler handler) {
  return subscribe(topic, std::move(handler), default_executor_);
}

EventBus::Subscription CoreEventBus::subscribe(const std::string& topic, Handler handler,
                                               boost::asio::any_io_executor executor) {
  std::lock_guard lock(mutex_);
  Subscription id = next_id_++;
  subscribers_.emplace(id, Entry{topic, std::move(handler), std::move(executor)});
  return id;
}

void CoreEventBus::unsubscribe(Subscription id) {
  std::lock_guard lock(mutex_);
  subscribers_.erase(id);
}

}  // namespace mnigs
