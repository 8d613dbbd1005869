// DhtNode listening for the offers of others: each value checked on
// OpenDHT's thread, the table of offers kept on the executor.
#include "dht/node_impl.hpp"

#include <boost/asio/post.hpp>

namespace mnigs {

void DhtNode::Impl::listen(OffersCallback callback) {
  callback_ = std::move(callback);
  if (!callback_) return cancel_listen();
  if (running_ && !listen_token_) start_listen();
}

void DhtNode::Impl::start_listen() {
  dht::ValueCallback on_values = [this](const std::vector<std::shared_ptr<dht::Value>>& values,
                                        bool expired) { return heard(values, expired); };
  listen_token_ = runner_->listen(offer_key(), std::move(on_values),
                                  dht::Value::TypeFilter(offer_value_type_id))
                      .share();
  listening_ = true;
}

void DhtNode::Impl::cancel_listen() {
  if (listen_token_ && runner_) runner_->cancelListen(offer_key(), *listen_token_);
  listen_token_.reset();
  listening_ = false;
  std::lock_guard lock(mutex_);
  offers_.clear();
}

// On a DHT thread: check each value, post what passed to the executor.
bool DhtNode::Impl::heard(const std::vector<std::shared_ptr<dht::Value>>& values, bool expired) {
  std::vector<HeardOffer> out;
  const auto now = unix_now();
  for (const auto& value : values) {
    if (!value) continue;
    if (expired) {
      // Gone from the DHT. Only values that passed SecureDht's signature
      // check reach a listener, so the owner is the signer.
      if (value->owner)
        out.push_back(
            {HeardOffer::Kind::gone, {}, identity_id(*value->owner), value->id, value->seq});
      continue;
    }
    auto checked = check_offer_value(*value, now);
    if (checked.verdict == OfferVerdict::accepted || checked.verdict == OfferVerdict::withdrawn) {
      const auto kind = checked.verdict == OfferVerdict::accepted ? HeardOffer::Kind::offer
                                                                  : HeardOffer::Kind::withdrawal;
      out.push_back({kind, std::move(checked.offer), {}, value->id, value->seq});
    } else {
      count(checked.verdict);
      log(LogLevel::debug, "dropped ", to_string(checked.verdict), " offer: ", checked.why);
    }
  }
  if (!out.empty())
    boost::asio::post(ex_, [weak = weak_from_this(), out = std::move(out)]() mutable {
      if (auto self = weak.lock()) self->apply(std::move(out));
    });
  return true;  // keep listening
}

// On the executor: update the table, tell the callback what changed.
void DhtNode::Impl::apply(std::vector<HeardOffer> heard) {
  if (!running_) return;
  OfferTable::Changes changes;
  {
    std::lock_guard lock(mutex_);
    changes = offers_.apply(std::move(heard));
  }
  if (changes.refused_full > 0)
    log(LogLevel::debug, "ignoring ", changes.refused_full, " offer(s) of new nodes: ",
        opt_.max_offers, " offers known already");
  expire_offers();  // also prunes withdrawals and re-arms the timer
  notify(std::move(changes.changed), false);
  notify(std::move(changes.gone), true);
}

// Drops offers and withdrawals whose time has passed; re-arms the timer
// for the next expiry.
void DhtNode::Impl::expire_offers() {
  std::vector<GatewayOffer> gone;
  std::optional<std::int64_t> next;
  {
    std::lock_guard lock(mutex_);
    gone = offers_.expire(unix_now(), &next);
  }
  if (next) {
    expiry_timer_.expires_at(std::chrono::system_clock::time_point(std::chrono::seconds(*next)));
    expiry_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && self->running_) self->expire_offers();
    });
  }
  notify(std::move(gone), true);
}

void DhtNode::Impl::notify(std::vector<GatewayOffer> offers, bool expired) {
  if (!offers.empty() && callback_) callback_(std::move(offers), expired);
}

}  // namespace mnigs
