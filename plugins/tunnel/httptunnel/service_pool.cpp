#include "service_pool.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace mnigs::httptunnel {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// Whether the service has been silent on the connection since its last
// answer: nothing to read, no close, no reset. One recv, peeking, that
// never waits.
bool quiet(tcp::socket& socket) {
  char byte;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

ServicePool::ServicePool(net::io_context& io, Options options)
    : options_(options), sweep_(io) {}

ServicePool::~ServicePool() { clear(); }

std::size_t ServicePool::idle() const { return state_->idle.size(); }

std::optional<tcp::socket> ServicePool::take(const std::string& service) {
  auto& list = state_->idle;
  const auto now = Clock::now();
  // The most recent first: it is the least likely to be closed by now.
  for (auto it = list.end(); it != list.begin();) {
    --it;
    if (it->service != service) continue;
    if (now - it->since >= options_.idle) {
      drop(it);  // older ones, of any service, go at the next sweep
      return std::nullopt;
    }
    if (!quiet(it->socket)) {
      const auto newer = std::next(it);
      drop(it);  // closed, reset, or talking out of turn: an older one may do
      it = newer;
      continue;
    }
    tcp::socket socket = std::move(it->socket);
    --state_->per_service[service];
    if (state_->per_service[service] == 0) state_->per_service.erase(service);
    list.erase(it);
    return socket;
  }
  return std::nullopt;
}

void ServicePool::give(const std::string& service, tcp::socket socket) {
  boost::system::error_code ec;
  if (!socket.is_open()) return;
  auto& count = state_->per_service[service];
  if (count >= options_.per_service || state_->idle.size() >= options_.total) {
    if (count == 0) state_->per_service.erase(service);
    socket.close(ec);
    return;
  }
  ++count;
  state_->idle.push_back({service, Clock::now(), std::move(socket)});
  arm_sweep();
}

void ServicePool::drop(List::iterator it) {
  boost::system::error_code ec;
  it->socket.close(ec);
  auto count = state_->per_service.find(it->service);
  if (count != state_->per_service.end() && --count->second == 0)
    state_->per_service.erase(count);
  state_->idle.erase(it);
}

void ServicePool::arm_sweep() {
  if (sweeping_) return;
  sweeping_ = true;
  // When the oldest is due: none is held much past its limit.
  sweep_.expires_at(state_->idle.front().since + options_.idle);
  sweep_.async_wait([this, weak = std::weak_ptr<State>(state_)](boost::system::error_code ec) {
    if (ec || !weak.lock()) return;  // cancelled: clear() reset sweeping_
    sweeping_ = false;
    sweep();
  });
}

void ServicePool::sweep() {
  const auto now = Clock::now();
  auto& list = state_->idle;
  while (!list.empty() && now - list.front().since >= options_.idle) drop(list.begin());
  if (!list.empty()) arm_sweep();
}

void ServicePool::clear() {
  sweep_.cancel();
  sweeping_ = false;
  while (!state_->idle.empty()) drop(state_->idle.begin());
}

}  // namespace mnigs::httptunnel
