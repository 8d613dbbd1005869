// The gateway's end of an mnigs node's link (link.hpp): after the 101, an
// HTTP/2 session on which each request the front routes to this node gets
// a CONNECT stream of its own. A Tunnel for the registry.
//
// A link is dropped when nothing arrived from the node for a whole ping
// timeout (nodes ping every third of it), when its socket fails, or when
// the HTTP/2 session fails; every request still on it is then told, as
// "unseen" when the node had not answered its stream yet (the node connects
// to its service before it answers, so the service cannot have seen it).
//
// Threading: the data thread only. Channel events are never delivered
// inside a call to the link or a channel: the session runs from the loop.
#pragma once

#include "link.hpp"
#include "mux.hpp"
#include "registry.hpp"

#include <mnigs/log.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace mnigs::httptunnel {

class H2Link : public Tunnel, public std::enable_shared_from_this<H2Link> {
 public:
  struct Options {
    std::chrono::seconds ping_timeout{30};
    MuxLimits limits;  // streams at once: limits.max_concurrent_streams
  };
  // Called once, from the loop, when the link is gone (why, for logs).
  using OnClosed = std::function<void(H2Link&, const std::string& why)>;

  H2Link(boost::asio::ip::tcp::socket socket, link::Hello hello, std::string pending,
         Options options, Logger& log, OnClosed on_closed);
  ~H2Link() override;

  // Sends the 101 and starts the session.
  void start();
  // Drops the link now (the plugin stops, or the registry refused it).
  void close(const std::string& why);

  bool has_room() const override;
  std::string describe() const override { return describe_; }
  std::unique_ptr<Channel> open(const ChannelRequest& request, Channel::Events events) override;
  std::vector<std::string> services() const override { return hello_.services; }

  // Called (from the loop) when a stream ended and the link may take
  // another request.
  void on_room(std::function<void(H2Link&)> fn) { on_room_ = std::move(fn); }

  const link::Hello& hello() const { return hello_; }
  const MuxCounters& counters() const { return mux_.counters(); }
  bool closed() const { return closed_; }

 private:
  struct Stream;  // what a channel and its HTTP/2 stream share
  class H2Channel;

  void schedule_pump();
  void pump();
  void read();
  void on_tick();
  void fail(const std::string& why);

  boost::asio::ip::tcp::socket socket_;
  link::Hello hello_;
  std::string pending_;
  Options options_;
  Logger& log_;
  OnClosed on_closed_;
  std::function<void(H2Link&)> on_room_;
  MuxSession mux_;
  boost::asio::steady_timer timer_;
  std::string describe_;
  std::map<std::int32_t, std::shared_ptr<Stream>> streams_;
  std::vector<std::uint8_t> in_;
  std::vector<std::uint8_t> sending_;
  bool reading_ = false, writing_ = false, pump_posted_ = false, closed_ = false;
  std::uint64_t frames_seen_ = 0;  // counters().frames_in at the last tick
  std::chrono::steady_clock::time_point heard_;
};

}  // namespace mnigs::httptunnel
