// Sharing the gateway with the hosts behind this subscriber (subscriber.lan):
// a router that is a subscriber passes its LAN's traffic into whatever
// tunnel is active, under its own address, so the LAN's hosts need no
// change when auto mode moves to another gateway.
//
// Kernel state it owns:
//   table inet mnigs_lan   postrouting (nat): traffic from the LAN prefixes
//                          to anywhere outside them is masqueraded, and its
//                          connection's ct mark gets this generation's
//                          number in bits 24-27 (mask 0x0f000000); the other
//                          bits of the mark are kept
//   net.ipv4.ip_forward, net.ipv6.conf.all.forwarding
//                          turned on for the families the prefixes have,
//                          recorded, and turned off again at stop (and at the
//                          next start after a crash) if they were off; not
//                          when the prefixes change while running
//
// Each time a connection comes up to another gateway than the last one, the
// generation moves on (1-15, then 1 again) and the connections of the old
// generation are deleted from conntrack (conntrack -D --mark), so the next
// packet of a flow that went through the old gateway is NATed afresh for the
// new path. (Without it the kernel drops that packet, and only then the
// connection, when the new path leaves by another interface; and a new path
// through the same interface under another source address would keep the
// old one.) Connections of the LAN to the mesh beside the tunnel are deleted
// too; they go on as new ones under the same address. Without the conntrack
// tool that is all left to the kernel (said in the log and status).
//
// Runs on a strand of its own; commands run one after another through `run`.
#pragma once

#include "config/config.hpp"
#include "log/log.hpp"
#include "os/command_runner.hpp"
#include "store/kv_store.hpp"
#include "store/store.hpp"
#include "util/net.hpp"

#include <json/value.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mnigs {

// The nft script that (re)creates table inet mnigs_lan for `prefixes`,
// marking new connections with `generation` (1-15). Empty prefixes: a
// script that only deletes the table.
std::string lan_nft_script(const std::vector<Prefix>& prefixes, unsigned generation);
// conntrack's --mark argument for the connections of `generation`.
std::string lan_conntrack_mark(unsigned generation);

class LanShare {
 public:
  // Runs one command; `done` may be called on any thread.
  using Run = std::function<void(os::Command, std::function<void(CommandOutcome)>)>;

  LanShare(boost::asio::io_context& io, const ConfigHolder& config, Store& store, Run run);

  // Removes what a previous run left and applies subscriber.lan.
  void start(std::function<void()> done);
  // Removes the table and turns the forwarding it turned on off again.
  void stop(std::function<void()> done);
  // subscriber.lan changed.
  void config_changed();
  // A connection came up to `gateway`: another one than before moves the
  // generation on and flushes the old one's connections.
  void gateway_active(const std::string& gateway);
  // {"prefixes": [...], "generation": N, "gateway": "...", "flushed": N
  //  (connections deleted at the last switch), "error": "..."}
  void status(std::function<void(Json::Value)> done);

 private:
  struct Step {
    os::Command command;
    // Whether the outcome is acceptable; absent: exit code 0.
    std::function<bool(const CommandOutcome&)> ok;
  };
  // Runs `steps` in order; stops at the first failure and passes its sentence.
  void run_steps(std::vector<Step> steps, std::function<void(std::string error)> done);
  // Installs the table for the current prefixes and generation, then the
  // knobs; `turn_off`: as set_knobs.
  void apply(bool turn_off, std::function<void()> done);
  // Turns each wanted knob on (recording it); with `turn_off`, one it turned
  // on and no longer wants back off. Only at start and stop: while running,
  // a gateway's tunnel may have come to rely on a knob that was on.
  void set_knobs(std::vector<std::string> knobs, bool turn_off, std::function<void()> done);
  void flush(unsigned generation);
  void set_error(const std::string& error);

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  const ConfigHolder& config_;
  Run run_;
  StderrLogger log_{"lan"};
  KvStore kv_;  // "generation", "gateway", "knob.<name>" (turned on by us)
  std::vector<Prefix> prefixes_;
  unsigned generation_ = 1;
  std::string gateway_;
  std::int64_t flushed_ = -1;  // -1: no flush yet
  std::string error_;
  bool stopped_ = true;
};

}  // namespace mnigs
