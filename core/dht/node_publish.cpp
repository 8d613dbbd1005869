// DhtNode publishing our offer: signing, putting, refreshing, withdrawing.
#include "dht/node_impl.hpp"

#include <boost/asio/post.hpp>

#include <random>

namespace mnigs {
namespace {

using namespace std::chrono_literals;

// How long stop() waits for the DHT to take our withdrawal.
constexpr auto withdraw_wait = 3s;
// A failed put is tried again this soon rather than at the next refresh
// (typically: published before any peer was reachable).
constexpr auto put_retry = 10s;

}  // namespace

bool DhtNode::Impl::publish(GatewayOffer offer, std::string* why) {
  offer.node_id = node_id_.empty() ? std::string(64, '0') : node_id_;  // checked on put
  offer.withdrawn = false;
  offer.expires = unix_now() + ttl_.count();
  if (!encode_offer(offer, why)) return false;
  offer.expires = 0;  // set at each signing
  // Nothing new to tell: the refresh timer keeps the signed copy alive.
  if (published_ && *published_ == offer && running_) return true;
  published_ = std::move(offer);
  publishing_ = true;
  if (running_) put_offer();
  return true;
}

// Signs the published offer with a fresh expiry and puts it; schedules
// the next refresh at half its lifetime.
void DhtNode::Impl::put_offer() {
  GatewayOffer offer = *published_;
  offer.node_id = node_id_;
  offer.expires = unix_now() + ttl_.count();
  // The callback runs on a DHT thread, which must never own the Impl
  // (its destructor joins that thread): retry from the executor.
  sign_and_put(offer, [ex = ex_, weak = weak_from_this()](bool ok) {
    if (!ok)
      boost::asio::post(ex, [weak] {
        if (auto self = weak.lock()) self->schedule_refresh(put_retry);
      });
  });
  last_signed_ = offer;
  published_expires_ = offer.expires;
  schedule_refresh(ttl_ / 2);
}

void DhtNode::Impl::schedule_refresh(std::chrono::steady_clock::duration after) {
  if (!published_ || !running_) return;
  const auto when = std::chrono::steady_clock::now() + after;
  // A retry must not postpone an earlier refresh.
  if (refresh_armed_ && refresh_timer_.expiry() <= when) return;
  refresh_armed_ = true;
  refresh_timer_.expires_at(when);
  refresh_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->refresh_armed_ = false;
      if (self->published_ && self->running_) self->put_offer();
    }
  });
}

// `done` runs on a DHT thread.
void DhtNode::Impl::sign_and_put(const GatewayOffer& offer, std::function<void(bool)> done) {
  // Every signing gets a value id of its own. OpenDHT 2.4's listen cache
  // passes on only value ids it has not seen: an edit (the same id, a
  // higher sequence number) reaches a listener only by luck, so refreshes
  // and withdrawals put as edits would be missed by most listeners of a
  // mesh bigger than the handful of nodes that store the key. Sequence
  // numbers keep rising across ids: listeners use them to order two
  // statements signed within the same second.
  new_value_id();
  auto value = make_offer_value(offer, value_id_, next_seq_++);
  runner_->putSigned(
      offer_key(), value,
      [this, done = std::move(done), withdrawn = offer.withdrawn](bool ok) {
        (ok ? puts_ok_ : puts_failed_)++;
        // Info only when it changes: an isolated gateway retries every
        // put_retry.
        const bool changed = last_put_ok_.exchange(ok) != ok;
        log(changed ? LogLevel::info : LogLevel::debug, withdrawn ? "withdrawal" : "offer",
            ok ? " stored in the DHT" : " not stored: no DHT node reachable");
        if (done) done(ok);
      },
      false);
}

// Random value ids: ids derived from the node id could be taken first by
// anyone (OpenDHT lets only the first signer edit a value id). The
// previous value is no longer put again; storing nodes drop it when its
// lifetime (offer_value_lifetime) has passed.
void DhtNode::Impl::new_value_id() {
  if (value_id_ != 0) runner_->cancelPut(offer_key(), value_id_);
  std::random_device random;
  std::uniform_int_distribution<dht::Value::Id> pick(1);
  value_id_ = pick(random);
}

void DhtNode::Impl::withdraw(bool wait) {
  if (!published_) return;
  published_.reset();
  publishing_ = false;
  published_expires_ = 0;
  refresh_timer_.cancel();
  refresh_armed_ = false;
  if (!running_ || !last_signed_) return;
  // A value of its own, signed later than the offer (a later or equal
  // expiry, a higher sequence number): listeners hear it as a new value
  // and drop the offer, and ignore the offer's value, still stored until
  // its lifetime is over. The withdrawal lives as long as the offer could
  // have.
  GatewayOffer withdrawal = *last_signed_;
  withdrawal.withdrawn = true;
  withdrawal.expires = unix_now() + ttl_.count();
  last_signed_.reset();
  auto stored = std::make_shared<std::promise<bool>>();
  auto future = stored->get_future();
  sign_and_put(withdrawal, [stored](bool ok) { stored->set_value(ok); });
  log(LogLevel::info, "offer withdrawn");
  if (wait && future.wait_for(withdraw_wait) != std::future_status::ready)
    log(LogLevel::info, "withdrawal not confirmed within ",
        std::chrono::duration<double>(withdraw_wait).count(), " s");
}

}  // namespace mnigs
