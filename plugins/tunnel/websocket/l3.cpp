#include "l3.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <mnigs/log.hpp>

namespace mnigs::websocket {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr std::chrono::milliseconds kFirstBackoff{500};
constexpr std::chrono::milliseconds kMaxBackoff{30000};
// Connecting and upgrading together may take this long.
constexpr std::chrono::seconds kConnectTimeout{10};

std::optional<IpKey> key_of(const std::string& text) {
  if (text.empty()) return std::nullopt;
  boost::system::error_code ec;
  auto a = net::ip::make_address(text, ec);
  if (ec) return std::nullopt;
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return IpKey::v4(b.data());
  }
  auto b = a.to_v6().to_bytes();
  return IpKey::v6(b.data());
}

}  // namespace

void DropLog::note(const std::string& reason) {
  std::uint64_t quiet = 0;
  if (!limit_.allow(LogLimit::Clock::now(), &quiet)) return;
  log_.warn(what_, ": dropped a packet: ", reason,
            quiet ? " (and " + std::to_string(quiet) + " more since the last report)" : "");
}

// ---------------------------------------------------------------- L3Gateway

L3Gateway::L3Gateway(net::io_context& io, TunDevice device, Link::Options options, Logger& log)
    : io_(io),
      options_(options),
      log_(log),
      pool_(std::make_shared<FramePool>(max_l3_message)),
      drops_(log, "websocket gateway") {
  options_.max_message = max_l3_message;
  tun_ = std::make_shared<TunPort>(io, std::move(device), pool_, log);
}

void L3Gateway::start() {
  std::weak_ptr<L3Gateway> weak = shared_from_this();
  tun_->start(
      [weak](OutFrame frame, std::size_t size) {
        if (auto self = weak.lock()) self->on_tun_packet(std::move(frame), size);
      },
      [weak] {
        auto self = weak.lock();
        if (!self) return;
        for (Entry* e : self->dirty_) {
          e->dirty = false;
          if (e->link) e->link->flush();
        }
        self->dirty_.clear();
      });
}

void L3Gateway::stop() {
  tun_->stop();
  std::vector<std::shared_ptr<Link>> links;
  {
    std::lock_guard lock(status_mutex_);
    for (auto& [id, e] : entries_)
      if (e->link) links.push_back(e->link);
    entries_.clear();
    by_address_.clear();
    dirty_.clear();
  }
  // Outside the lock: a link that fails at once calls its OnClosed, which
  // takes the lock.
  for (auto& link : links) link->close(close_going_away, "the gateway is stopping");
}

void L3Gateway::on_tun_packet(OutFrame frame, std::size_t size) {
  auto addresses = packet_addresses({frame.payload() + vnet_header_size, size - vnet_header_size});
  if (!addresses) {
    ++counters_.malformed;
    return pool_->give(std::move(frame));
  }
  auto it = by_address_.find(addresses->destination);
  if (it == by_address_.end() || !it->second->link || !it->second->link->open()) {
    // Traffic for a subscriber that is not connected right now (or for an
    // unused pool address): as a router without a route, drop it.
    ++counters_.no_route;
    return pool_->give(std::move(frame));
  }
  Entry* e = it->second;
  e->link->send(std::move(frame), size);
  if (!e->dirty) {
    e->dirty = true;
    dirty_.push_back(e);
  }
}

void L3Gateway::on_message(Entry& e, std::span<std::uint8_t> message) {
  if (message.size() <= vnet_header_size) {
    ++counters_.malformed;
    return drops_.note("session " + e.id + " sent a message too short for a packet");
  }
  auto addresses = packet_addresses(message.subspan(vnet_header_size));
  if (!addresses) {
    ++counters_.malformed;
    return drops_.note("session " + e.id + " sent something that is not an IP packet");
  }
  const auto& own = addresses->version == 4 ? e.address4 : e.address6;
  if (!own || !(*own == addresses->source)) {
    ++counters_.spoofed;
    return drops_.note("session " + e.id + " sent a packet from an address that is not its own");
  }
  if (!tun_->write(message)) drops_.note("the tun device refused a packet of session " + e.id);
}

void L3Gateway::attach(const std::string& id, tcp::socket socket,
                       std::shared_ptr<tls::Session> tls, std::string pending,
                       const std::string& address4, const std::string& address6) {
  std::unique_lock lock(status_mutex_);
  auto& slot = entries_[id];
  if (!slot) {
    slot = std::make_shared<Entry>();
    slot->id = id;
  }
  std::shared_ptr<Entry> entry = slot;
  Entry* e = slot.get();
  for (auto* old : {&e->address4, &e->address6})
    if (*old) by_address_.erase(**old);
  e->address4 = key_of(address4);
  e->address6 = key_of(address6);
  for (auto* a : {&e->address4, &e->address6})
    if (*a) by_address_[**a] = e;
  auto previous = std::move(e->link);
  auto generation = ++e->generation;
  e->link = std::make_shared<Link>(std::move(socket), options_, e->counters, pool_,
                                   std::move(tls));
  auto link = e->link;
  lock.unlock();
  if (previous) previous->close(close_going_away, "replaced by a new connection of the session");

  std::weak_ptr<L3Gateway> weak = shared_from_this();
  std::weak_ptr<Link> weak_link = link;
  link->start(
      {reinterpret_cast<const std::uint8_t*>(pending.data()), pending.size()},
      [weak, e](std::span<std::uint8_t> message) {
        if (auto self = weak.lock()) self->on_message(*e, message);
      },
      // Holding the entry keeps the counters the link writes alive until it
      // has closed, even after detach().
      [weak, entry, id, generation, weak_link](const std::string& reason, bool) {
        auto self = weak.lock();
        if (!self) return;
        auto closed = weak_link.lock();
        if (closed && closed->closed_slow()) {
          // A subscriber can do this on purpose, again and again: a line per 10 s.
          ++self->counters_.closed_slow;
          std::uint64_t quiet = 0;
          if (self->slow_log_.allow(LogLimit::Clock::now(), &quiet))
            self->log_.warn("session ", id, ": link closed: ", reason,
                            quiet ? " (and " + std::to_string(quiet) +
                                        " more slow readers since the last report)"
                                  : "");
        } else {
          self->log_.info("session ", id, ": link closed: ", reason);
        }
        std::lock_guard lock(self->status_mutex_);
        auto it = self->entries_.find(id);
        // The entry stays (its addresses are the session's); only its link goes.
        if (it != self->entries_.end() && it->second->generation == generation)
          it->second->link.reset();
      });
}

void L3Gateway::detach(const std::string& id, const std::string& reason) {
  std::unique_lock lock(status_mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  auto entry = std::move(it->second);
  entries_.erase(it);
  for (auto* a : {&entry->address4, &entry->address6})
    if (*a) {
      auto b = by_address_.find(**a);
      if (b != by_address_.end() && b->second == entry.get()) by_address_.erase(b);
    }
  std::erase(dirty_, entry.get());
  auto link = std::move(entry->link);
  lock.unlock();
  if (link) link->close(close_policy, reason);
}

std::vector<L3Gateway::SessionStatus> L3Gateway::sessions() const {
  std::lock_guard lock(status_mutex_);
  std::vector<SessionStatus> out;
  for (const auto& [id, e] : entries_) {
    SessionStatus s;
    s.id = id;
    s.connected = e->link != nullptr;
    s.rx_bytes = e->counters.rx_bytes;
    s.tx_bytes = e->counters.tx_bytes;
    s.dropped = e->counters.dropped_queue_full + e->counters.dropped_text;
    s.queued = e->counters.queued;
    s.queued_peak = e->counters.queued_peak;
    out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.id < b.id; });
  return out;
}

// ---------------------------------------------------------------- TunnelClient

TunnelClient::TunnelClient(net::io_context& io, TunDevice device, Link::Options options, Target target,
                   Logger& log)
    : io_(io),
      options_(options),
      target_(std::move(target)),
      log_(log),
      pool_(std::make_shared<FramePool>(max_l3_message)),
      timer_(io),
      drops_(log, "websocket subscriber") {
  options_.max_message = max_l3_message;
  options_.role = Link::Role::client;
  tun_ = std::make_shared<TunPort>(io, std::move(device), pool_, log);
}

void TunnelClient::start() {
  std::weak_ptr<TunnelClient> weak = shared_from_this();
  tun_->start(
      [weak](OutFrame frame, std::size_t size) {
        auto self = weak.lock();
        if (!self) return;
        if (!self->link_ || !self->link_->open()) {
          ++self->counters_.no_route;
          return self->pool_->give(std::move(frame));
        }
        if (self->target_.ethernet)
          self->link_->send(std::move(frame), size - vnet_header_size, vnet_header_size);
        else
          self->link_->send(std::move(frame), size);
      },
      [weak] {
        if (auto self = weak.lock())
          if (self->link_) self->link_->flush();
      });
  do_connect();
}

void TunnelClient::stop() {
  stopped_ = true;
  timer_.cancel();
  tun_->stop();
  if (socket_) {
    boost::system::error_code ec;
    socket_->close(ec);
  }
  if (link_) link_->close(close_normal, "the subscriber disconnects");
  std::lock_guard lock(status_mutex_);
  status_.connected = false;
}

TunnelClient::Status TunnelClient::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

void TunnelClient::do_connect() {
  if (stopped_) return;
  boost::system::error_code ec;
  auto address = net::ip::make_address(target_.address, ec);
  if (ec) return retry("bad gateway address " + target_.address);
  socket_.emplace(io_);
  key_ = random_key();
  std::string host = address.is_v6() ? "[" + target_.address + "]" : target_.address;
  try {
    request_ = client_request(host + ":" + std::to_string(target_.port), target_.path, key_,
                              target_.headers);
  } catch (const std::exception& e) {  // connect() checked; never throw on the data plane
    return retry(e.what());
  }
  response_.clear();
  timer_.expires_after(kConnectTimeout);
  timer_.async_wait(
      [weak = std::weak_ptr<TunnelClient>(shared_from_this())](boost::system::error_code e) {
        auto self = weak.lock();
        if (e || !self || !self->socket_) return;
        boost::system::error_code ignored;
        self->socket_->close(ignored);  // the pending operation fails; retry follows
      });
  socket_->async_connect(
      {address, target_.port},
      [self = shared_from_this()](boost::system::error_code e) { self->on_connect(e); });
}

void TunnelClient::on_connect(boost::system::error_code ec) {
  if (stopped_) return;
  if (ec)
    return retry("cannot connect to " + target_.address + ":" + std::to_string(target_.port) +
                 ": " + ec.message());
  tls_.reset();
  if (target_.tls_pin.empty()) return send_request();
  try {
    // The TLS client's settings are the same for every connection.
    static const std::shared_ptr<tls::Context> context = tls::Context::client();
    socket_->non_blocking(true);
    tls_ = std::make_shared<tls::Session>(context, socket_->native_handle(), false,
                                          target_.tls_pin);
  } catch (const std::exception& e) {
    return retry(std::string("TLS: ") + e.what());
  }
  auto session = tls_;
  tls::drive(*socket_, [session] { return session->handshake(); },
             [self = shared_from_this(), session](tls::Session::Status st) {
               if (self->stopped_ || self->tls_ != session) return;
               if (st != tls::Session::Status::ok)
                 return self->retry(session->error().empty() ? "the TLS handshake failed"
                                                             : session->error());
               self->send_request();
             });
}

void TunnelClient::send_request() {
  if (tls_) {
    tls::write_all(*socket_, tls_, std::make_shared<const std::string>(request_),
                   [self = shared_from_this()](const std::string& error) {
                     if (self->stopped_) return;
                     if (!error.empty())
                       return self->retry("sending the upgrade request: " + error);
                     self->do_read_response();
                   });
    return;
  }
  net::async_write(*socket_, net::buffer(request_),
                   [self = shared_from_this()](boost::system::error_code e, std::size_t) {
                     if (self->stopped_) return;
                     if (e) return self->retry("sending the upgrade request: " + e.message());
                     self->do_read_response();
                   });
}

void TunnelClient::do_read_response() {
  if (tls_) {
    auto session = tls_;
    tls::drive(
        *socket_,
        [self = shared_from_this(), session]() {
          std::array<std::uint8_t, 4096> buf;
          std::size_t n = 0;
          const auto st = session->read(buf, n);
          self->response_.append(reinterpret_cast<const char*>(buf.data()), n);
          return st;
        },
        [self = shared_from_this(), session](tls::Session::Status st) {
          if (self->stopped_ || self->tls_ != session) return;
          if (st != tls::Session::Status::ok)
            return self->retry("reading the upgrade response: " +
                               (session->error().empty() ? std::string("the gateway closed")
                                                         : session->error()));
          self->on_response();
        });
    return;
  }
  auto buf = std::make_shared<std::array<char, 4096>>();
  socket_->async_read_some(net::buffer(*buf), [self = shared_from_this(), buf](
                                                  boost::system::error_code ec, std::size_t n) {
    if (self->stopped_) return;
    if (ec) return self->retry("reading the upgrade response: " + ec.message());
    self->response_.append(buf->data(), n);
    self->on_response();
  });
}

void TunnelClient::on_response() {
  auto r = parse_response(response_, key_);
  if (r.status == 0 && r.error.empty()) return do_read_response();
  if (!r.ok)
    return retry("the gateway refused the tunnel: " +
                 (r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error));
  timer_.cancel();
  std::string rest = response_.substr(r.consumed);
  auto socket = std::move(*socket_);
  socket_.reset();
  const std::string cipher = tls_ ? tls_->description() : "";
  link_ = std::make_shared<Link>(std::move(socket), options_, link_counters_, pool_,
                                 std::move(tls_));
  backoff_ = kFirstBackoff;
  {
    std::lock_guard lock(status_mutex_);
    status_.connected = true;
    ++status_.connects;
    status_.last_error.clear();
    status_.tls = cipher;
  }
  log_.info("tunnel to ", target_.address, target_.path, " is up",
            cipher.empty() ? " (plain ws)" : " over " + cipher + ", key " + target_.tls_pin);
  std::weak_ptr<TunnelClient> weak = shared_from_this();
  auto link = link_;
  link->start(
      {reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size()},
      [weak](std::span<std::uint8_t> message) {
        if (auto s = weak.lock()) s->on_message(message);
      },
      [weak, link](const std::string& reason, bool) {
        auto s = weak.lock();
        if (!s || s->link_ != link) return;
        s->link_.reset();
        s->retry("the link to the gateway closed: " + reason);
      });
}

void TunnelClient::retry(const std::string& why) {
  if (stopped_) return;
  tls_.reset();
  socket_.reset();
  {
    std::lock_guard lock(status_mutex_);
    status_.connected = false;
    status_.last_error = why;
    status_.tls.clear();
  }
  log_.warn("tunnel to ", target_.address, ": ", why, "; trying again in ", backoff_.count(),
            " ms");
  timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  timer_.async_wait(
      [weak = std::weak_ptr<TunnelClient>(shared_from_this())](boost::system::error_code ec) {
        if (auto self = weak.lock(); self && !ec) self->do_connect();
      });
}

void TunnelClient::on_message(std::span<std::uint8_t> message) {
  if (target_.ethernet) {
    if (message.size() < 14) {
      ++counters_.malformed;
      return drops_.note("the switch sent a frame shorter than an Ethernet header");
    }
    if (!tun_->write_plain(message)) drops_.note("the tap device refused a frame");
    return;
  }
  if (message.size() <= vnet_header_size || !packet_addresses(message.subspan(vnet_header_size))) {
    ++counters_.malformed;
    return drops_.note("the gateway sent something that is not an IP packet");
  }
  if (!tun_->write(message)) drops_.note("the tun device refused a packet from the gateway");
}

}  // namespace mnigs::websocket
