// Throughput through the tunnel, for testGateway: a bounded bulk transfer
// between a subscriber and its gateway, on the daemon's port.
//
// The subscriber asks for it as an HTTP upgrade:
//
//   GET /probe/bulk?down=N&up=M HTTP/1.1   (N, M: 0..kMaxBytes)
//   Upgrade: mnigs-bulk
//   Connection: Upgrade
//
// The gateway answers only session holders (as the probe echo does), at
// most kMaxAtOnce at a time: "101 Switching Protocols", then N zero bytes.
// It then reads what the subscriber sends until it half-closes (at most M
// bytes; more closes the connection) and answers with the count it got, 8
// bytes big-endian. A transfer lasts at most kDeadline; anyone else gets
// 403, a full house 503, a bad query 400.
#pragma once

#include "probe/bulk_query.hpp"
#include "probe/echo_service.hpp"

#include <mnigs/upgrade.hpp>

#include <json/value.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace mnigs::probe {

inline constexpr const char* kBulkPath = "/probe/bulk";

class BulkService {
 public:
  static constexpr std::uint64_t kMaxBytes = kMaxBulkBytes;
  static constexpr int kMaxAtOnce = 4;
  static constexpr std::chrono::seconds kDeadline{10};

  BulkService(boost::asio::io_context& io, EchoService& echo);
  // The upgrade handler for kBulkPath.
  void serve(HttpUpgrade request);
  // {"served": N, "refused": N, "active": N}
  void status(std::function<void(Json::Value)> done);

 private:
  struct Transfer;
  void start(HttpUpgrade request, bool holder);
  void finished();

  boost::asio::io_context& io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  EchoService& echo_;
  int active_ = 0;
  std::uint64_t served_ = 0, refused_ = 0;
};

// One direction measured by run_bulk.
struct BulkFigures {
  std::uint64_t bytes = 0;
  double seconds = 0;
  double mbit_per_s() const {
    return seconds > 0 ? static_cast<double>(bytes) * 8 / seconds / 1e6 : 0;
  }
};

struct BulkResult {
  std::string error;  // "" when both directions were measured
  BulkFigures down, up;
};

// Measures `down` bytes from and `up` bytes to the gateway at `to` (its
// tunnel address and daemon port), each direction on its own connection
// (bound to `device` unless it is "") and stopped after `limit`; `done` runs
// once, on `ex`.
void run_bulk(boost::asio::any_io_executor ex, boost::asio::ip::tcp::endpoint to,
              const std::string& device,
              std::uint64_t down, std::uint64_t up, std::chrono::milliseconds limit,
              std::function<void(BulkResult)> done);

}  // namespace mnigs::probe
