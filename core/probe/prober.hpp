// The subscriber's end of the health probes: sends a probe (packet.hpp) to
// one gateway every `interval` and keeps what came back: round-trip times
// and loss over the last `window` probes, and the gateway's word on its
// uplink. It judges the path as BFD does, by silence: nothing heard for
// `down_after` while probes went out is "down". Sustained loss, round
// trips far above the path's own best (a gray failure), or a gateway that
// says it has no uplink, is "degraded".
// Replies must carry this prober's random 64-bit nonce (they may come from
// any address of the gateway); anything else is counted as garbage and
// changes nothing. Runs on the
// strand it is given; its timers run on an os::Clock.
#pragma once

#include "os/clock.hpp"

#include <json/value.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mnigs::probe {

struct ProberOptions {
  std::chrono::milliseconds interval{200};
  // Silence for this long (after at least 3 probes) is "down"; before the
  // first reply, twice this.
  std::chrono::milliseconds down_after{1000};
  std::size_t window = 50;    // probes the loss and RTT figures cover
  double max_loss = 0.25;     // over a window's probes sent down_after ago or more: degraded
  // p95 above this × the best median seen (and 50 ms above it), with the
  // median above twice the best: degraded.
  double max_rtt_factor = 3;
  // Stop sending after this many probes (a measurement); 0: go on.
  std::size_t count = 0;
  // Bind the socket to this interface (SO_BINDTODEVICE), "" for none.
  std::string device;
};

enum class Health { unknown, up, degraded, down };
const char* to_string(Health h);

class Prober {
 public:
  // Called on the strand when the health changes, with a sentence saying why.
  using OnChange = std::function<void(Health, const std::string& why)>;

  Prober(boost::asio::any_io_executor strand, os::Clock& clock,
         boost::asio::ip::udp::endpoint target, ProberOptions options, OnChange on_change);
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Opens the socket and sends the first probe; "" or why it could not.
  // Call on the strand.
  std::string start();
  // Stops probing; no more calls of on_change. Call on the strand.
  void stop();

  Health health() const { return health_; }
  bool uplink_down() const { return uplink_down_; }
  const boost::asio::ip::udp::endpoint& target() const { return target_; }
  // {"health", "target", "sent", "received", "garbage", "loss" (0..1 over
  //  the window), "rttMs": {"min", "median", "p95", "jitter"}, "lastHeardMs",
  //  "uplinkDown"}; RTT figures absent before the first reply.
  Json::Value figures() const;
  // Median RTT over the window, in ms; nullopt before the first reply.
  std::optional<double> median_rtt_ms() const;
  double loss() const;

 private:
  struct Slot {
    std::uint32_t sequence = 0;
    std::chrono::steady_clock::time_point sent{};
    std::optional<std::chrono::steady_clock::duration> rtt;
    bool used = false;
  };
  struct State;
  void tick();
  void on_reply(std::size_t n);
  void receive();
  void judge(std::chrono::steady_clock::time_point now);
  void set(Health h, const std::string& why);
  std::vector<double> window_rtts_ms() const;

  boost::asio::any_io_executor strand_;
  os::Clock& clock_;
  boost::asio::ip::udp::endpoint target_;
  ProberOptions options_;
  OnChange on_change_;
  std::shared_ptr<State> state_;  // the socket and buffers; outlives a pending receive
  std::unique_ptr<os::Timer> timer_;
  std::vector<Slot> slots_;
  std::uint64_t nonce_ = 0;
  std::uint32_t next_sequence_ = 1;
  std::uint64_t sent_ = 0, received_ = 0, garbage_ = 0;
  std::uint32_t sent_since_heard_ = 0;
  int replies_in_a_row_ = 0;
  std::chrono::steady_clock::time_point started_{}, last_heard_{};
  bool heard_ = false;
  std::optional<double> best_median_ms_;
  Health health_ = Health::unknown;
  bool uplink_down_ = false;
  bool running_ = false;
};

}  // namespace mnigs::probe
