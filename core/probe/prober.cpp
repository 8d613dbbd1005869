#include "probe/prober.hpp"

#include "probe/packet.hpp"

#include <boost/asio/post.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace mnigs::probe {

namespace {
using boost::asio::ip::udp;
using std::chrono::steady_clock;

double ms(steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> sorted, double q) {
  if (sorted.empty()) return 0;
  std::size_t i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size()))) - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}
}  // namespace

const char* to_string(Health h) {
  switch (h) {
    case Health::unknown: return "unknown";
    case Health::up: return "up";
    case Health::degraded: return "degraded";
    case Health::down: return "down";
  }
  return "?";
}

struct Prober::State {
  explicit State(boost::asio::any_io_executor ex) : socket(std::move(ex)) {}
  udp::socket socket;
  udp::endpoint from;
  std::array<char, kMaxSize + 1> buffer{};
  bool running = false;
};

Prober::Prober(boost::asio::any_io_executor strand, os::Clock& clock, udp::endpoint target,
               ProberOptions options, OnChange on_change)
    : strand_(std::move(strand)),
      clock_(clock),
      target_(std::move(target)),
      options_(std::move(options)),
      on_change_(std::move(on_change)),
      state_(std::make_shared<State>(strand_)),
      timer_(clock.make_timer(strand_)) {
  options_.window = std::max<std::size_t>(options_.window, 1);
  options_.interval = std::max(options_.interval, std::chrono::milliseconds(1));
  slots_.resize(options_.window);
  std::random_device random;
  nonce_ = (static_cast<std::uint64_t>(random()) << 32) ^ random();
}

Prober::~Prober() { stop(); }

std::string Prober::start() {
  boost::system::error_code ec;
  auto& s = state_->socket;
  s.open(target_.protocol(), ec);
  if (!ec && !options_.device.empty() &&
      ::setsockopt(s.native_handle(), SOL_SOCKET, SO_BINDTODEVICE, options_.device.c_str(),
                   static_cast<socklen_t>(options_.device.size())) != 0)
    ec.assign(errno, boost::system::system_category());
  // Not connected: a gateway may answer from another of its addresses (its
  // mesh address on a loopback or dummy device, say); the nonce tells its
  // answers from anything else.
  if (!ec) s.non_blocking(true, ec);
  if (ec) {
    boost::system::error_code ignored;
    s.close(ignored);
    return "cannot probe " + target_.address().to_string() + ": " + ec.message();
  }
  state_->running = true;
  running_ = true;
  started_ = last_heard_ = clock_.now();
  receive();
  tick();
  return "";
}

void Prober::stop() {
  if (!running_) return;
  running_ = false;
  state_->running = false;
  boost::system::error_code ignored;
  state_->socket.close(ignored);
  timer_->cancel();
}

void Prober::receive() {
  std::weak_ptr<State> weak = state_;
  state_->socket.async_receive_from(
      boost::asio::buffer(state_->buffer), state_->from,
      [this, weak](const boost::system::error_code& ec, std::size_t n) {
        auto s = weak.lock();
        if (!s || !s->running || ec == boost::asio::error::operation_aborted) return;
        // ICMP unreachable shows as an error here: a lost probe.
        if (!ec) on_reply(n);
        if (s->running) receive();
      });
}

void Prober::tick() {
  auto now = clock_.now();
  judge(now);
  if (!running_ || (options_.count && sent_ >= options_.count)) return;
  std::uint32_t seq = next_sequence_++;
  slots_[seq % slots_.size()] = Slot{seq, now, std::nullopt, true};
  Packet p;
  p.type = Type::request;
  p.sequence = seq;
  p.timestamp = nonce_;
  std::string out = encode(p);
  boost::system::error_code ec;
  state_->socket.send_to(boost::asio::buffer(out), target_, 0, ec);  // an error is a lost probe
  ++sent_;
  ++sent_since_heard_;
  std::weak_ptr<State> weak = state_;
  timer_->expires_after(options_.interval);
  timer_->async_wait([this, weak](const boost::system::error_code& ec) {
    auto s = weak.lock();
    if (ec || !s || !s->running) return;
    tick();
  });
}

void Prober::on_reply(std::size_t n) {
  auto p = parse(std::string_view(state_->buffer.data(), n));
  if (!p || p->type != Type::reply || p->timestamp != nonce_) {
    ++garbage_;
    return;
  }
  Slot& slot = slots_[p->sequence % slots_.size()];
  if (!slot.used || slot.sequence != p->sequence || slot.rtt) return;  // late or repeated
  auto now = clock_.now();
  slot.rtt = now - slot.sent;
  ++received_;
  heard_ = true;
  last_heard_ = now;
  sent_since_heard_ = 0;
  ++replies_in_a_row_;
  uplink_down_ = (p->flags & kUplinkDown) != 0;
  judge(now);
}

std::vector<double> Prober::window_rtts_ms() const {
  std::vector<double> out;
  for (const auto& s : slots_)
    if (s.used && s.rtt) out.push_back(ms(*s.rtt));
  return out;
}

std::optional<double> Prober::median_rtt_ms() const {
  auto r = window_rtts_ms();
  if (r.empty()) return std::nullopt;
  std::sort(r.begin(), r.end());
  return percentile(r, 0.5);
}

double Prober::loss() const {
  auto now = clock_.now();
  std::size_t known = 0, lost = 0;
  for (const auto& s : slots_) {
    if (!s.used || now - s.sent < options_.down_after) continue;  // fate not known yet
    ++known;
    if (!s.rtt) ++lost;
  }
  return known ? static_cast<double>(lost) / static_cast<double>(known) : 0;
}

void Prober::judge(steady_clock::time_point now) {
  auto limit = heard_ ? options_.down_after : 2 * options_.down_after;
  if (now - last_heard_ >= limit && sent_since_heard_ >= 3) {
    replies_in_a_row_ = 0;
    return set(Health::down, heard_ ? "no answer to " + std::to_string(sent_since_heard_) +
                                          " probes in " + std::to_string(static_cast<long>(
                                                              ms(now - last_heard_))) + " ms"
                                    : "no answer to any of " + std::to_string(sent_since_heard_) +
                                          " probes");
  }
  if (!heard_ || now - last_heard_ >= limit) return;
  if (health_ == Health::down && replies_in_a_row_ < 3) return;

  // Gray failure: judged once a whole window of probes went out, over those
  // whose fate is known (sent at least down_after ago).
  std::size_t known = 0;
  for (const auto& s : slots_)
    if (s.used && now - s.sent >= options_.down_after) ++known;
  std::string why;
  if (uplink_down_) why = "the gateway says it has no uplink";
  if (why.empty() && sent_ >= slots_.size() && known >= slots_.size() / 2 &&
      loss() >= options_.max_loss) {
    why = "loss " + std::to_string(static_cast<int>(std::lround(loss() * 100))) + " % over " +
          std::to_string(known) + " probes";
  }
  auto rtts = window_rtts_ms();
  if (rtts.size() >= std::max<std::size_t>(10, slots_.size() / 2)) {
    std::sort(rtts.begin(), rtts.end());
    double median = percentile(rtts, 0.5), p95 = percentile(rtts, 0.95);
    if (!best_median_ms_ || median < *best_median_ms_) best_median_ms_ = median;
    // Round trips of a fraction of a millisecond vary by more than 3× on an
    // idle LAN, and a busy link queues (bufferbloat): a gray failure is p95
    // above 3× the best and 50 ms above it, with the median doubled too.
    double bound = std::max(options_.max_rtt_factor * *best_median_ms_, *best_median_ms_ + 50);
    if (why.empty() && p95 > bound && median > 2 * *best_median_ms_)
      why = "round trips p95 " + std::to_string(static_cast<long>(p95)) + " ms, over " +
            std::to_string(static_cast<long>(bound)) + " ms (" +
            std::to_string(static_cast<int>(options_.max_rtt_factor)) + "× the best median)";
  }
  if (!why.empty()) return set(Health::degraded, why);
  set(Health::up, health_ == Health::unknown ? "the gateway answers probes"
                                             : "the gateway answers probes again");
}

void Prober::set(Health h, const std::string& why) {
  if (h == health_) return;
  health_ = h;
  if (!on_change_) return;
  // Posted: the handler may stop or destroy this prober.
  std::weak_ptr<State> weak = state_;
  boost::asio::post(strand_, [weak, cb = on_change_, h, why] {
    auto s = weak.lock();
    if (s && s->running) cb(h, why);
  });
}

Json::Value Prober::figures() const {
  Json::Value v(Json::objectValue);
  v["health"] = to_string(health_);
  v["target"] = target_.address().to_string();
  v["sent"] = static_cast<Json::UInt64>(sent_);
  v["received"] = static_cast<Json::UInt64>(received_);
  v["garbage"] = static_cast<Json::UInt64>(garbage_);
  v["loss"] = std::round(loss() * 1000) / 1000;
  v["uplinkDown"] = uplink_down_;
  if (heard_) v["lastHeardMs"] = static_cast<Json::Int64>(ms(clock_.now() - last_heard_));
  // Ordered by sequence for jitter: the mean change between consecutive round trips.
  std::vector<std::pair<std::uint32_t, double>> ordered;
  for (const auto& s : slots_)
    if (s.used && s.rtt) ordered.emplace_back(s.sequence, ms(*s.rtt));
  if (ordered.empty()) return v;
  std::sort(ordered.begin(), ordered.end());
  std::vector<double> sorted;
  double jitter = 0;
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    sorted.push_back(ordered[i].second);
    if (i) jitter += std::abs(ordered[i].second - ordered[i - 1].second);
  }
  if (ordered.size() > 1) jitter /= static_cast<double>(ordered.size() - 1);
  std::sort(sorted.begin(), sorted.end());
  auto r3 = [](double x) { return std::round(x * 1000) / 1000; };
  Json::Value rtt(Json::objectValue);
  rtt["min"] = r3(sorted.front());
  rtt["median"] = r3(percentile(sorted, 0.5));
  rtt["p95"] = r3(percentile(sorted, 0.95));
  rtt["jitter"] = r3(jitter);
  v["rttMs"] = rtt;
  return v;
}

}  // namespace mnigs::probe
