// One long-lived connection to babeld's local interface: read the greeting,
// send "monitor", fold the dump and every later add/change/flush line into a
// Table. When babeld is not there or goes away, reconnect with a backoff
// (kRetryMin doubling up to kRetryMax) and resynchronise from a fresh dump;
// until that dump is complete the last table stays as it was.
//
// Every phase has a deadline (Settings::timeout): the connect, the greeting
// and the dump; a connection that stays silent for kKeepaliveIdle gets an
// empty request, which babeld answers with "ok", within the same timeout.
//
// Threading: all work runs on the plugin's strand (PluginContext::executor());
// the listener is called there. Handlers hold a shared_ptr to the Monitor,
// so stop() followed by destruction of the owner is safe.
#pragma once

#include <array>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mnigs/plugin.hpp>
#include <optional>
#include <string>

#include "line_reader.hpp"
#include "log_limit.hpp"
#include "parser.hpp"
#include "table.hpp"

namespace mnigs::babel {

inline constexpr std::chrono::milliseconds kRetryMin{1000};
inline constexpr std::chrono::milliseconds kRetryMax{30000};
inline constexpr std::chrono::milliseconds kKeepaliveIdle{30000};
// Longest line accepted from babeld (its own lines stay under 512 bytes).
inline constexpr std::size_t kMaxLine = 4096;

// Where babeld's local interface is.
struct Settings {
  std::string socket;   // unix socket path; "" means TCP
  std::string address;  // TCP: babeld listens on ::1
  std::uint16_t port = 33123;
  std::chrono::milliseconds timeout{5000};
  // Silence after which a keepalive is sent; not a config key (tests shorten it).
  std::chrono::milliseconds keepalive_idle = kKeepaliveIdle;

  // "[::1]:33123", "127.0.0.1:33123" or the socket path.
  std::string describe() const;
  bool operator==(const Settings&) const = default;
};

// Reads the plugin's config section; nullopt with `why` naming the key.
std::optional<Settings> read_settings(const Json::Value& config, std::string* why);

class Monitor : public std::enable_shared_from_this<Monitor> {
 public:
  enum class Phase { stopped, connecting, greeting, dumping, live, waiting };

  // Told about changes, on the strand. Not called after stop().
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void synced() = 0;   // a full dump is in; the table was replaced
    virtual void updated() = 0;  // lines changed the table since the last call
    virtual void lost() = 0;     // a connection or an attempt failed
  };

  Monitor(PluginContext& context, Settings settings, Listener& listener);

  // Connects at once. Call once.
  void start();
  // Closes the connection and cancels every timer; the listener is forgotten.
  void stop();
  // New settings: when the endpoint or timeout differ, reconnect at once.
  void reconfigure(const Settings& settings);

  Phase phase() const { return phase_; }
  bool live() const { return phase_ == Phase::live; }
  // Connecting, or connected and not yet through the dump.
  bool syncing() const {
    return phase_ == Phase::connecting || phase_ == Phase::greeting || phase_ == Phase::dumping;
  }
  const Settings& settings() const { return settings_; }
  const Table& table() const { return table_; }
  // Of the last connection that got through its greeting.
  const Greeting& greeting() const { return greeting_; }
  // Why the last connection or attempt failed ("connection refused"); "" if none did.
  const std::string& last_error() const { return last_error_; }
  // A sentence for Discovery::error when not live, e.g. "babeld's local
  // interface at [::1]:33123: connection refused"; "" when live.
  std::string error() const;
  std::uint64_t malformed_lines() const { return malformed_; }
  std::uint64_t connections() const { return connections_; }
  static const char* phase_name(Phase phase);

 private:
  void connect();
  void on_connect(std::uint64_t attempt, const boost::system::error_code& ec);
  void read();
  void on_read(std::uint64_t attempt, const boost::system::error_code& ec, std::size_t n);
  void on_line(std::string_view line);
  void on_greeting_line(std::string_view line);
  void on_dump_line(std::string_view raw, const Line& line);
  void on_live_line(std::string_view raw, const Line& line);
  void send(std::string text);
  void write_next();
  void arm_deadline(std::chrono::steady_clock::duration after);
  void on_deadline(std::uint64_t attempt);
  void fail(std::string reason);
  void close();
  void retry_later();
  void note_malformed(std::string_view line, const std::string& why);

  PluginContext& ctx_;
  Settings settings_;
  Listener* listener_;
  Phase phase_ = Phase::stopped;
  // Bumped by each connect and close, so handlers of an earlier connection
  // (already queued when it closed) know to do nothing.
  std::uint64_t attempt_ = 0;

  boost::asio::generic::stream_protocol::socket socket_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer retry_;
  std::chrono::milliseconds backoff_ = kRetryMin;
  std::array<char, 8192> read_buffer_{};
  LineReader lines_{kMaxLine};
  std::deque<std::string> outgoing_;
  bool writing_ = false;

  GreetingReader greeting_reader_;
  Greeting greeting_;
  Table table_;           // what the listener sees
  Table incoming_;        // the dump being read
  bool changed_ = false;  // table_ changed in the chunk being read

  std::chrono::steady_clock::time_point last_heard_{};
  bool keepalive_sent_ = false;
  std::chrono::steady_clock::time_point keepalive_at_{};

  std::string last_error_;
  bool outage_logged_ = false;  // the current outage has been logged once
  std::uint64_t malformed_ = 0;
  std::uint64_t connections_ = 0;
  LogLimit malformed_log_{5, std::chrono::seconds(60)};
};

}  // namespace mnigs::babel
