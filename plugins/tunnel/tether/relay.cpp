#include "relay.hpp"

#include <mnigs/log.hpp>

namespace mnigs::tether {

using websocket::FramePool;
using websocket::Link;
using websocket::OutFrame;
using websocket::TunPort;

Relay::Relay(boost::asio::io_context& io, Link::Options options, Logger& log)
    : io_(io),
      options_(options),
      log_(log),
      pool_(std::make_shared<FramePool>(websocket::max_tun_read)) {
  options_.role = Link::Role::server;
  options_.max_message = websocket::max_tun_read;
  // A browser sends a message over 64 KiB (a large segment) in pieces.
  options_.reassemble = true;
}

void Relay::set_options(Link::Options options) {
  options_.liveness = options.liveness;
  options_.max_queue = options.max_queue;
}

void Relay::attach_page(boost::asio::ip::tcp::socket socket, std::string pending,
                        std::function<void(std::uint64_t page)> on_attached, OnText on_text,
                        OnClosed on_closed) {
  if (link_) link_->close(close_replaced, "another page took over the tether");
  const std::uint64_t page = ++page_;
  on_attached(page);
  auto link = std::make_shared<Link>(std::move(socket), options_, counters_, pool_);
  link_ = link;
  std::weak_ptr<Relay> weak = shared_from_this();
  link->on_text([on_text, page](std::string_view text) { on_text(page, std::string(text)); });
  link->start(
      {reinterpret_cast<const std::uint8_t*>(pending.data()), pending.size()},
      [weak](std::span<std::uint8_t> message) {
        auto self = weak.lock();
        if (!self) return;
        if (!self->tun_) {
          ++self->dropped_;
          return;
        }
        if (!self->tun_->write(message)) ++self->tun_refused_;
      },
      [weak, page, on_closed](const std::string& reason, bool) {
        if (auto self = weak.lock(); self && self->page_ == page) self->link_.reset();
        on_closed(page, reason);
      });
}

void Relay::send_text(std::uint64_t page, const std::string& text) {
  if (link_ && page == page_) link_->send_text(text);
}

void Relay::close_page(std::uint16_t code, const std::string& reason) {
  if (auto link = std::move(link_)) link->close(code, reason);
}

void Relay::attach_tun(websocket::TunDevice device) {
  detach_tun();
  tun_ = std::make_shared<TunPort>(io_, std::move(device), pool_, log_);
  std::weak_ptr<Relay> weak = shared_from_this();
  tun_->start(
      [weak](OutFrame frame, std::size_t size) {
        auto self = weak.lock();
        if (!self) return;
        if (!self->link_ || !self->link_->open()) {
          ++self->dropped_;
          return self->pool_->give(std::move(frame));
        }
        self->link_->send(std::move(frame), size);
      },
      [weak] {
        if (auto self = weak.lock(); self && self->link_) self->link_->flush();
      });
}

void Relay::detach_tun() {
  if (auto tun = std::move(tun_)) tun->stop();
}

void Relay::stop() {
  close_page(websocket::close_going_away, "mnigsd is stopping the tether");
  detach_tun();
}

}  // namespace mnigs::tether
