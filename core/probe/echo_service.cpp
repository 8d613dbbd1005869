#include "probe/echo_service.hpp"

#include "log/log.hpp"
#include "probe/packet.hpp"
#include "util/net.hpp"

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

namespace mnigs::probe {

namespace {
using boost::asio::ip::udp;
}  // namespace

struct EchoService::Socket {
  explicit Socket(boost::asio::any_io_executor ex) : socket(ex) {}
  udp::socket socket;
  udp::endpoint from;
  std::array<char, kMaxSize + 1> buffer{};  // one more: a longer datagram shows as too long
};

EchoService::EchoService(boost::asio::io_context& io, os::Clock& clock)
    : strand_(boost::asio::make_strand(io)), clock_(clock) {}

EchoService::~EchoService() = default;

std::string EchoService::listen(const std::vector<udp::endpoint>& endpoints) {
  std::string errors;
  for (const auto& ep : endpoints) {
    auto s = std::make_shared<Socket>(strand_);
    boost::system::error_code ec;
    s->socket.open(ep.protocol(), ec);
    if (!ec && ep.address().is_v6()) s->socket.set_option(boost::asio::ip::v6_only(true), ec);
    if (!ec) s->socket.bind(ep, ec);
    if (!ec) s->socket.non_blocking(true, ec);
    if (ec) {
      errors += (errors.empty() ? "" : "; ") + ("UDP " + ep.address().to_string() + " port " +
                                                std::to_string(ep.port()) + ": " + ec.message());
      continue;
    }
    sockets_.push_back(s);
    boost::asio::post(strand_, [this, s] { receive(s); });
  }
  return errors;
}

std::vector<udp::endpoint> EchoService::local_endpoints() const {
  std::vector<udp::endpoint> out;
  for (const auto& s : sockets_) {
    boost::system::error_code ec;
    auto ep = s->socket.local_endpoint(ec);
    if (!ec) out.push_back(ep);
  }
  return out;
}

void EchoService::stop() {
  boost::asio::post(strand_, [this] {
    for (auto& s : sockets_) {
      boost::system::error_code ignored;
      s->socket.close(ignored);
    }
    sockets_.clear();
  });
}

void EchoService::receive(const std::shared_ptr<Socket>& s) {
  s->socket.async_receive_from(boost::asio::buffer(s->buffer), s->from,
                               [this, s](const boost::system::error_code& ec, std::size_t n) {
                                 if (ec == boost::asio::error::operation_aborted ||
                                     !s->socket.is_open())
                                   return;
                                 if (!ec) on_datagram(*s, n);
                                 receive(s);
                               });
}

void EchoService::on_datagram(Socket& s, std::size_t n) {
  const auto from = unmap(s.from.address());
  auto now = clock_.now();
  auto note = [&](std::uint64_t& counter, const char* what) {
    ++counter;
    if (now - last_log_ < std::chrono::minutes(1)) return;
    last_log_ = now;
    log_.info(what, " from ", from.to_string(), " (counted in status; said once a minute)");
  };
  if (!holders_.count(from)) return note(not_holder_, "probe refused: not a session holder");
  auto p = parse(std::string_view(s.buffer.data(), n));
  if (!p || p->type != Type::request) return note(malformed_, "malformed probe");
  if (!take_token(from)) return note(limited_, "probes beyond the rate dropped");
  Packet reply = *p;
  reply.type = Type::reply;
  reply.flags = uplink_down_ ? kUplinkDown : 0;
  std::string out = encode(reply);
  boost::system::error_code ec;
  s.socket.send_to(boost::asio::buffer(out), s.from, 0, ec);  // full buffer: dropped, as UDP may
  if (!ec) ++answered_;
}

bool EchoService::take_token(const boost::asio::ip::address& from) {
  auto now = clock_.now();
  auto [it, fresh] = buckets_.try_emplace(from);
  Bucket& b = it->second;
  if (!fresh) {
    double elapsed = std::chrono::duration<double>(now - b.last).count();
    b.tokens = std::min(kBurst, b.tokens + std::max(0.0, elapsed) * kRate);
  }
  b.last = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

void EchoService::hold(const std::string& id, std::vector<boost::asio::ip::address> addresses) {
  for (auto& a : addresses) a = unmap(a);
  boost::asio::post(strand_, [this, id, addresses = std::move(addresses)] {
    auto release = [this](const boost::asio::ip::address& a) {
      auto it = holders_.find(a);
      if (it == holders_.end()) return;
      if (--it->second > 0) return;
      holders_.erase(it);
      buckets_.erase(a);
    };
    if (auto old = by_session_.find(id); old != by_session_.end()) {
      for (const auto& a : old->second) release(a);
      by_session_.erase(old);
    }
    if (addresses.empty()) return;
    for (const auto& a : addresses) ++holders_[a];
    by_session_[id] = addresses;
  });
}

void EchoService::holds(const boost::asio::ip::address& address, std::function<void(bool)> done) {
  boost::asio::post(strand_, [this, a = unmap(address), done] { done(holders_.count(a) > 0); });
}

void EchoService::set_uplink_down(bool down) {
  boost::asio::post(strand_, [this, down] { uplink_down_ = down; });
}

void EchoService::status(std::function<void(Json::Value)> done) {
  boost::asio::post(strand_, [this, done] {
    Json::Value v(Json::objectValue);
    v["answered"] = static_cast<Json::UInt64>(answered_);
    v["notHolder"] = static_cast<Json::UInt64>(not_holder_);
    v["malformed"] = static_cast<Json::UInt64>(malformed_);
    v["limited"] = static_cast<Json::UInt64>(limited_);
    v["holders"] = static_cast<Json::UInt64>(holders_.size());
    done(v);
  });
}

}  // namespace mnigs::probe
