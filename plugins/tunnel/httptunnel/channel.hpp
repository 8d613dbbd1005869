// One request's way to a node and back, whatever carries it: an HTTP/2
// stream of an mnigs node's connection, or a WStunnel client's message
// pair. The gateway's front writes the request as HTTP/1.1 bytes (head and
// framed body) and reads the response the same way; after a 101 answer the
// same calls carry the upgraded connection's bytes both ways.
//
// Both directions are flow-controlled, so nothing on the way holds more
// than its window: write() takes what fits and on_writable says when more
// does; the bytes on_data hands over count against the window until
// consumed() says they went on.
//
// Threading: the data thread only. No event runs inside a call to the
// channel (or to Tunnel::open): events come later, from the loop, and may
// call back into the channel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace mnigs::httptunnel {

class Channel {
 public:
  struct Events {
    std::function<void(std::span<const std::uint8_t>)> on_data;  // response bytes
    std::function<void()> on_end;       // the node finished its side
    std::function<void()> on_writable;  // write() takes bytes again
    // The channel failed: why, and whether the node can have seen none of
    // the request (it was refused before any byte reached its service), so
    // that an idempotent request may be sent again elsewhere.
    std::function<void(const std::string& why, bool unseen)> on_failed;
  };
  // Destroying a channel lets it go: after both sides ended, it is done;
  // before, as abort().
  virtual ~Channel() = default;
  // Takes up to bytes.size() bytes of the request; 0 when full.
  virtual std::size_t write(std::span<const std::uint8_t> bytes) = 0;
  // The request is complete (its last byte written).
  virtual void end() = 0;
  // `n` bytes handed to on_data went on; the node may send as many more.
  virtual void consumed(std::size_t n) = 0;
  // Gives the request up (the HTTP client left, or a timeout): the node is
  // told, no callback runs afterwards.
  virtual void abort() = 0;
};

// What the front asks a tunnel to carry.
struct ChannelRequest {
  // The service name for named services; "" for token requests.
  std::string service;
  std::string client;  // the HTTP client's address, for the node's logs
};

}  // namespace mnigs::httptunnel
